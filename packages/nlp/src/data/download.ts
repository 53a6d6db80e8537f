/// <reference types="node" />
import { DataError } from "./errors.js";
import { type CorpusInfo, corpora, findCorpus } from "./registry.js";

/** What `onProgress` hears after every received chunk. */
export interface DownloadProgress {
  readonly corpus: string;
  readonly receivedBytes: number;
  /** The registered size, else the server's Content-Length, else undefined. */
  readonly totalBytes: number | undefined;
}

export interface DownloadOptions {
  /** The folder that keeps downloaded corpora (created if missing). */
  readonly cacheDir: string;
  /** Default `globalThis.fetch`. */
  readonly fetch?: typeof globalThis.fetch;
  /**
   * A mirror to download from instead of the registered URL: the corpus is fetched from
   * `<baseUrl>/<name>.txt` (tests use a local server).
   */
  readonly baseUrl?: string;
  readonly onProgress?: (progress: DownloadProgress) => void;
  readonly signal?: AbortSignal;
}

/**
 * Downloads a registered corpus (by name, or a `CorpusInfo` with an http(s) `source` and a
 * `sha256`) into `cacheDir` and returns the path of `<cacheDir>/<name>.txt`. Node only.
 *
 * - A cached file whose sha256 is right is used as it is: no request is made.
 * - The body is streamed to a temporary file in `cacheDir` while being hashed; only when its size
 *   and sha256 match is it renamed to the final name (atomic on one file system), so the cache
 *   never holds a partial or corrupt file, even when two processes download at once.
 * - A checksum or size mismatch deletes the temporary file and throws `CHECKSUM_MISMATCH`;
 *   offline, refused, dropped connections and HTTP errors throw `DOWNLOAD_FAILED` saying where
 *   to put the file by hand.
 */
export async function downloadCorpus(corpus: string | CorpusInfo, options: DownloadOptions): Promise<string> {
  const info = downloadable(corpus);
  const expectedSha = info.sha256!.toLowerCase();
  const { createHash, randomUUID } = await import("node:crypto");
  const fs = await import("node:fs");
  const { join, resolve } = await import("node:path");

  const cacheDir = resolve(options.cacheDir);
  const fileName = `${info.name}.txt`;
  const target = join(cacheDir, fileName);
  const url = options.baseUrl === undefined ? info.source : new URL(fileName, options.baseUrl.replace(/\/*$/, "/")).href;

  if (await hasSha256(target, expectedSha, info.sizeBytes)) return target;

  const fail = (reason: string, cause?: unknown) =>
    new DataError(
      "DOWNLOAD_FAILED",
      `could not download ${info.name} from ${url}: ${reason}; check your connection or place the file at ${target}`,
      { path: target, cause },
    );

  const fetchImpl = options.fetch ?? globalThis.fetch;
  let response: Response;
  try {
    response = await fetchImpl(url, options.signal === undefined ? {} : { signal: options.signal });
  } catch (error) {
    throw fail(describe(error), error);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw fail(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`);
  }
  const header = Number(response.headers.get("content-length") ?? NaN);
  const total = info.sizeBytes ?? (Number.isSafeInteger(header) ? header : undefined);

  await fs.promises.mkdir(cacheDir, { recursive: true });
  const temporary = join(cacheDir, `.${fileName}.${randomUUID()}.part`);
  const file = await fs.promises.open(temporary, "wx");
  const hash = createHash("sha256");
  let received = 0;
  let closed = false;
  try {
    if (response.body !== null) {
      const reader = response.body.getReader();
      try {
        for (;;) {
          const chunk = await reader.read().catch((error: unknown) => {
            const of = total === undefined ? "" : ` of ${total}`;
            throw fail(`the connection was lost after ${received}${of} bytes (${describe(error)})`, error);
          });
          if (chunk.done) break;
          received += chunk.value.length;
          if (info.sizeBytes !== undefined && received > info.sizeBytes) {
            throw new DataError(
              "CHECKSUM_MISMATCH",
              `download of ${info.name} from ${url} is larger than the expected ${info.sizeBytes} bytes; ` +
                `the temporary file ${temporary} was deleted`,
              { path: target },
            );
          }
          hash.update(chunk.value);
          await file.write(chunk.value);
          options.onProgress?.({ corpus: info.name, receivedBytes: received, totalBytes: total });
        }
      } finally {
        await reader.cancel().catch(() => undefined);
      }
    }
    await file.sync();
    closed = true;
    await file.close();
    if (info.sizeBytes !== undefined && received !== info.sizeBytes) {
      throw new DataError(
        "CHECKSUM_MISMATCH",
        `download of ${info.name} from ${url} has ${received} bytes, expected ${info.sizeBytes}; ` +
          `the temporary file ${temporary} was deleted`,
        { path: target },
      );
    }
    const actual = hash.digest("hex");
    if (actual !== expectedSha) {
      throw new DataError(
        "CHECKSUM_MISMATCH",
        `checksum mismatch for ${info.name} downloaded from ${url}: expected sha256 ${expectedSha}, got ${actual}; ` +
          `the temporary file ${temporary} was deleted and nothing was cached`,
        { path: target },
      );
    }
    await fs.promises.rename(temporary, target);
    return target;
  } catch (error) {
    if (!closed) await file.close().catch(() => undefined);
    await fs.promises.rm(temporary, { force: true });
    throw error;
  }
}

/** Whether `path` exists with the given sha256 (and size): a valid cache entry. */
async function hasSha256(path: string, sha256: string, size: number | undefined): Promise<boolean> {
  const fs = await import("node:fs");
  const { createHash } = await import("node:crypto");
  try {
    const stat = await fs.promises.stat(path);
    if (!stat.isFile() || (size !== undefined && stat.size !== size)) return false;
    const hash = createHash("sha256");
    for await (const chunk of fs.createReadStream(path) as AsyncIterable<Uint8Array>) hash.update(chunk);
    return hash.digest("hex") === sha256;
  } catch {
    return false;
  }
}

function downloadable(corpus: string | CorpusInfo): CorpusInfo {
  const info = typeof corpus === "string" ? findCorpus(corpus) : corpus;
  if (info === undefined) {
    const names = corpora.filter((c) => !c.embedded).map((c) => c.name);
    throw new DataError("NOT_FOUND", `downloadCorpus: unknown corpus ${JSON.stringify(corpus)}; downloadable corpora: ${names.join(", ")}`);
  }
  if (info.embedded) {
    throw new DataError("NOT_DOWNLOADABLE", `downloadCorpus: ${info.name} ships with the package and needs no download; use loadCorpus(${JSON.stringify(info.name)})`);
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(info.name)) {
    throw new DataError("NOT_DOWNLOADABLE", `downloadCorpus: corpus name ${JSON.stringify(info.name)} must be letters, digits, '.', '_' or '-' (it names the cached file)`);
  }
  if (!/^https?:\/\//.test(info.source)) {
    throw new DataError("NOT_DOWNLOADABLE", `downloadCorpus: ${info.name} has no http(s) source to download from: ${info.source}`);
  }
  if (info.sha256 === undefined || !/^[0-9a-fA-F]{64}$/.test(info.sha256)) {
    throw new DataError("NOT_DOWNLOADABLE", `downloadCorpus: ${info.name} needs a sha256 (64 hex digits) to check the download against`);
  }
  return info;
}

/** An error's message with its causes: undici says "fetch failed" and puts the reason in `cause`. */
function describe(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    if (e instanceof Error) {
      const code = (e as { code?: unknown }).code;
      const text = typeof code === "string" && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
      if (text !== "" && !parts.includes(text)) parts.push(text);
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.length > 0 ? parts.join(": ") : "unknown error";
}
