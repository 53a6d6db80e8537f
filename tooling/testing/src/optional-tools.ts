// The tools that some tests, benchmarks and scripts use and that a fresh machine (Node and npm
// only) may not have: Debian's Chromium and Debian's PyTorch. One place says how each is found,
// what it decides, and what a test does without it: it skips with the reason, or fails where the
// environment promises the tool (`.ci/run` sets the UNROLL_REQUIRE_* variables).
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { tmpdir } from "node:os";

export type ToolId = "chromium" | "pytorch";

export interface ToolProbe {
  readonly found: boolean;
  /** What was found (path and versions), or why nothing was. */
  readonly detail: string;
}

export interface OptionalTool {
  readonly id: ToolId;
  readonly name: string;
  /** The environment variable that names the binary, and its default. */
  readonly pathVariable: string;
  readonly defaultPath: string;
  /** Set to 1 to make a missing tool a failing test instead of a skipped one. */
  readonly requireVariable: string;
  /** What runs only where the tool is found. */
  readonly decides: readonly string[];
  readonly install: string;
}

export const TOOLS: Readonly<Record<ToolId, OptionalTool>> = {
  chromium: {
    id: "chromium",
    name: "Chromium",
    pathVariable: "UNROLL_CHROMIUM",
    defaultPath: "/usr/bin/chromium",
    requireVariable: "UNROLL_REQUIRE_BROWSER",
    decides: [
      "apps/playground: the end-to-end test in a real browser (training in a worker, ONNX in onnxruntime-web)",
      "apps/playground: the WebGPU test (every exported model family on WebGPU, on Chromium's SwiftShader, against wasm and the library)",
      "tooling/packaging: the Vite page test (the installed tarballs bundled into a page that trains in Chromium)",
    ],
    install: "apt-get install chromium",
  },
  pytorch: {
    id: "pytorch",
    name: "PyTorch",
    pathVariable: "UNROLL_PYTHON",
    defaultPath: "/usr/bin/python3",
    requireVariable: "UNROLL_REQUIRE_TORCH",
    decides: [
      "tooling/bench: the PyTorch rows of the benchmark, and the smoke test's check that PyTorch trains to unroll's losses",
      "regenerating the PyTorch golden fixtures (`pnpm --filter @unroll/tensor fixtures` and the like; tests read the committed JSON)",
      "apps/cli: the PyTorch half of test/export-torch.test.ts (the export's logits, token ids and training steps against the library's, one process and torchrun)",
      "apps/cli: the PyTorch half of test/import-torch.test.ts (state dicts PyTorch saved import with PyTorch's logits)",
    ],
    install: "apt-get install python3-torch libopenblas0-pthread",
  },
};

/** The binary a tool is looked for at: its variable, else the default. */
export function toolPath(id: ToolId, env: NodeJS.ProcessEnv = process.env): string {
  const tool = TOOLS[id];
  return env[tool.pathVariable] || tool.defaultPath;
}

/** Whether the environment promises the tool (`UNROLL_REQUIRE_...=1`). */
export function toolRequired(id: ToolId, env: NodeJS.ProcessEnv = process.env): boolean {
  return env[TOOLS[id].requireVariable] === "1";
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const torchProbes = new Map<string, ToolProbe>();

/**
 * Whether `python` imports torch and numpy. `-I` (isolated mode) keeps the working directory off
 * `sys.path`: without it, any folder named `torch/` beside the caller imports as a namespace
 * package and the check says yes where PyTorch is absent (`cwd` is there for the test of that).
 */
export function probeTorch(python: string, cwd: string = tmpdir()): ToolProbe {
  const key = `${python}\0${cwd}`;
  const cached = torchProbes.get(key);
  if (cached) return cached;
  let probe: ToolProbe;
  if (!executable(python)) probe = { found: false, detail: `no Python interpreter at ${python}` };
  else {
    const r = spawnSync(python, ["-I", "-c", "import torch, numpy; print(torch.__version__, numpy.__version__)"], {
      cwd,
      encoding: "utf8",
      timeout: 60_000,
    });
    const [torch, numpy] = (r.stdout ?? "").trim().split(" ");
    probe =
      r.status === 0 && torch && numpy
        ? { found: true, detail: `${python}: torch ${torch}, numpy ${numpy}` }
        : { found: false, detail: `${python} cannot import torch and numpy (${lastLine(r.stderr) || `exit ${r.status}`})` };
  }
  torchProbes.set(key, probe);
  return probe;
}

function lastLine(text: string | null | undefined): string {
  return (text ?? "").trim().split("\n").at(-1) ?? "";
}

/** Looks for a tool where its variable (or the default) says. */
export function probeTool(id: ToolId, env: NodeJS.ProcessEnv = process.env): ToolProbe {
  const path = toolPath(id, env);
  if (id === "pytorch") return probeTorch(path);
  return executable(path) ? { found: true, detail: path } : { found: false, detail: `no ${TOOLS[id].name} at ${path}` };
}

/** The reason a test that needs the tool does not run here, with the ways to change that. */
export function missingMessage(id: ToolId, probe: ToolProbe): string {
  return `${absence(id, probe)}. Set ${TOOLS[id].requireVariable}=1 to make its absence a failure.`;
}

function absence(id: ToolId, probe: ToolProbe): string {
  const t = TOOLS[id];
  return `${t.name} is not available: ${probe.detail} (install: ${t.install}; or set ${t.pathVariable} to another binary)`;
}

/**
 * For a test that needs a tool: returns true when the tool is there; otherwise throws where the
 * environment requires the tool, or prints why the test is skipped and returns false (the caller
 * then calls `ctx.skip(...)` or takes its documented "absent" path).
 */
export function haveTool(id: ToolId, env: NodeJS.ProcessEnv = process.env): boolean {
  const probe = probeTool(id, env);
  if (probe.found) return true;
  if (toolRequired(id, env)) throw new Error(`${TOOLS[id].requireVariable}=1, but ${absence(id, probe)}`);
  return false;
}

/** One line per tool: found or not, required or not, and what it decides. */
export function toolReport(env: NodeJS.ProcessEnv = process.env): string[] {
  const lines: string[] = ["optional tools (a test that needs a missing tool is skipped with its reason, or fails where UNROLL_REQUIRE_... is 1):"];
  for (const id of Object.keys(TOOLS) as ToolId[]) {
    const t = TOOLS[id];
    const probe = probeTool(id, env);
    const required = toolRequired(id, env) ? `required (${t.requireVariable}=1)` : "optional";
    lines.push(`  ${t.name}: ${probe.found ? "found" : "MISSING"}, ${required}: ${probe.detail}`);
    for (const d of t.decides) lines.push(`    decides: ${d}`);
  }
  return lines;
}
