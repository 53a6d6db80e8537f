import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CorpusInfo, DataError, type DownloadProgress, downloadCorpus, loadCorpus } from "./index.js";

// The fixture: 141,000 bytes of multi-byte text (several network chunks). Its size and sha256
// were computed outside this code (Python's hashlib).
const FIXTURE = Buffer.from("To be, or not to be — ça va? 日本語 🎉\n".repeat(3000), "utf8");
const FIXTURE_SIZE = 141_000;
const FIXTURE_SHA256 = "a4cc6f9208378c8b72b163fd90892421ba647d1ba053eec6ba293517344a57c6";

let dir: string;
let server: Server | undefined;
let requests: string[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "unroll-nlp-download-"));
  requests = [];
});
afterEach(async () => {
  if (server !== undefined) {
    server.closeAllConnections();
    await new Promise((resolve) => server!.close(resolve));
    server = undefined;
  }
  rmSync(dir, { recursive: true, force: true });
});

/** A server on 127.0.0.1 (a free port) answering every request with `handler`; its base URL. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer((req, res) => {
    requests.push(req.url ?? "");
    handler(req, res);
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

function sendBytes(bytes: Uint8Array) {
  return (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-length": bytes.length });
    res.end(bytes);
  };
}

function fixture(url: string): CorpusInfo {
  return { name: "fixture", description: "test fixture", source: `${url}fixture.txt`, license: "none", embedded: false, sizeBytes: FIXTURE_SIZE, sha256: FIXTURE_SHA256 };
}

async function rejection(promise: Promise<unknown>): Promise<DataError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataError);
  return error as DataError;
}

describe("downloadCorpus", () => {
  it("streams into the cache, checks the bytes, reports progress and leaves no temporary file", async () => {
    expect(FIXTURE.length).toBe(FIXTURE_SIZE);
    const url = await serve(sendBytes(FIXTURE));
    const progress: DownloadProgress[] = [];
    const cacheDir = join(dir, "cache", "nested");
    const path = await downloadCorpus(fixture(url), { cacheDir, onProgress: (p) => progress.push(p) });
    expect(path).toBe(join(cacheDir, "fixture.txt"));
    expect(readFileSync(path).equals(FIXTURE)).toBe(true);
    expect(readdirSync(cacheDir)).toEqual(["fixture.txt"]);
    expect(requests).toEqual(["/fixture.txt"]);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toEqual({ corpus: "fixture", receivedBytes: FIXTURE_SIZE, totalBytes: FIXTURE_SIZE });
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.receivedBytes).toBeGreaterThan(progress[i - 1]!.receivedBytes);
  });

  it("does not download a cached file whose checksum is right", async () => {
    const url = await serve(sendBytes(FIXTURE));
    const first = await downloadCorpus(fixture(url), { cacheDir: dir });
    const refusing: typeof fetch = () => Promise.reject(new Error("must not be called"));
    const second = await downloadCorpus(fixture(url), { cacheDir: dir, fetch: refusing });
    expect(second).toBe(first);
    expect(requests).toHaveLength(1);
  });

  it("replaces a cached file whose checksum is wrong", async () => {
    const url = await serve(sendBytes(FIXTURE));
    const damaged = Buffer.from(FIXTURE);
    damaged[100] = 0x41;
    writeFileSync(join(dir, "fixture.txt"), damaged);
    const path = await downloadCorpus(fixture(url), { cacheDir: dir });
    expect(requests).toHaveLength(1);
    expect(readFileSync(path).equals(FIXTURE)).toBe(true);
  });

  it("refuses corrupted bytes, deletes the temporary file and says so", async () => {
    const corrupted = Buffer.from(FIXTURE);
    corrupted[FIXTURE_SIZE - 5] = corrupted[FIXTURE_SIZE - 5]! ^ 0x20; // same size, one bit different
    const url = await serve(sendBytes(corrupted));
    const error = await rejection(downloadCorpus(fixture(url), { cacheDir: dir }));
    expect(error.code).toBe("CHECKSUM_MISMATCH");
    expect(error.message).toContain(`checksum mismatch for fixture downloaded from ${url}fixture.txt: expected sha256 ${FIXTURE_SHA256}, got `);
    expect(error.message).toMatch(/the temporary file .*\.part was deleted and nothing was cached/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("checks a named corpus against its registered checksum, fetching <baseUrl>/<name>.txt", async () => {
    const url = await serve(sendBytes(Buffer.alloc(1_115_394, "a")));
    const error = await rejection(downloadCorpus("tiny-shakespeare", { cacheDir: dir, baseUrl: url }));
    expect(requests).toEqual(["/tiny-shakespeare.txt"]);
    expect(error.message).toContain("expected sha256 86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed");
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses a download of the wrong size", async () => {
    const url = await serve(sendBytes(FIXTURE.subarray(0, 1000)));
    const error = await rejection(downloadCorpus(fixture(url), { cacheDir: dir }));
    expect(error.code).toBe("CHECKSUM_MISMATCH");
    expect(error.message).toContain(`has 1000 bytes, expected ${FIXTURE_SIZE}`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("explains a dropped connection and cleans up", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { "content-length": FIXTURE_SIZE });
      res.write(FIXTURE.subarray(0, 50_000), () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const error = await rejection(downloadCorpus(fixture(url), { cacheDir: dir }));
    expect(error.code).toBe("DOWNLOAD_FAILED");
    expect(error.message).toMatch(
      new RegExp(`^could not download fixture from ${url}fixture\\.txt: the connection was lost after \\d+ of ${FIXTURE_SIZE} bytes \\(.+\\); check your connection or place the file at `),
    );
    expect(error.message.endsWith(join(dir, "fixture.txt"))).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("explains a refused connection", async () => {
    const url = await serve(sendBytes(FIXTURE));
    server!.close();
    server = undefined;
    const error = await rejection(downloadCorpus(fixture(url), { cacheDir: dir }));
    expect(error.code).toBe("DOWNLOAD_FAILED");
    expect(error.message).toContain(`could not download fixture from ${url}fixture.txt: fetch failed`);
    expect(error.message).toContain("ECONNREFUSED");
    expect(error.message).toContain(`; check your connection or place the file at ${join(dir, "fixture.txt")}`);
  });

  it("explains being offline, naming the real URL and the cache path", async () => {
    const offline: typeof fetch = () =>
      Promise.reject(new TypeError("fetch failed", { cause: Object.assign(new Error("getaddrinfo ENOTFOUND raw.githubusercontent.com"), { code: "ENOTFOUND" }) }));
    const error = await rejection(downloadCorpus("tiny-shakespeare", { cacheDir: dir, fetch: offline }));
    expect(error.message).toBe(
      "could not download tiny-shakespeare from https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt: " +
        `fetch failed: getaddrinfo ENOTFOUND raw.githubusercontent.com; check your connection or place the file at ${join(dir, "tiny-shakespeare.txt")}`,
    );
  });

  it("reports HTTP errors", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(404, "Not Found");
      res.end("nothing here");
    });
    const error = await rejection(downloadCorpus(fixture(url), { cacheDir: dir }));
    expect(error.message).toContain(`could not download fixture from ${url}fixture.txt: HTTP 404 Not Found; check your connection`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses unknown names, embedded corpora and corpora without a checksum", async () => {
    expect((await rejection(downloadCorpus("enwik9", { cacheDir: dir }))).message).toContain(
      'unknown corpus "enwik9"; downloadable corpora: tiny-shakespeare',
    );
    expect((await rejection(downloadCorpus("moby-dick", { cacheDir: dir }))).code).toBe("NOT_DOWNLOADABLE");
    const unchecked: CorpusInfo = { name: "x", description: "", source: "http://127.0.0.1:9/x.txt", license: "", embedded: false };
    expect((await rejection(downloadCorpus(unchecked, { cacheDir: dir }))).message).toContain("needs a sha256");
    const escaping: CorpusInfo = { ...unchecked, name: "../x", sha256: FIXTURE_SHA256 };
    expect((await rejection(downloadCorpus(escaping, { cacheDir: dir }))).code).toBe("NOT_DOWNLOADABLE");
  });
});

// Needs the real bytes of tiny Shakespeare: ../shared/data has them, a fresh clone does not
// (shared/data/README.md), so these run only where the folder is present.
const shared = new URL("../../../../../shared/data/tinyshakespeare/input.txt", import.meta.url);
describe.runIf(existsSync(shared))("tiny-shakespeare served locally (needs ../shared/data; skipped without it)", () => {
  it("downloads, verifies against the registry, caches and loads it", async () => {
    const bytes = readFileSync(shared);
    const url = await serve(sendBytes(bytes));
    const text = await loadCorpus("tiny-shakespeare", { cacheDir: dir, baseUrl: url });
    expect(text.length).toBe(1_115_394);
    expect(new Set(text).size).toBe(65);
    expect(readdirSync(dir)).toEqual(["tiny-shakespeare.txt"]);
    await loadCorpus("tiny-shakespeare", { cacheDir: dir, baseUrl: url });
    expect(requests).toHaveLength(1);
  });

});
