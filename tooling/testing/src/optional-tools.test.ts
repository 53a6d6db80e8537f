import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { haveTool, missingMessage, probeTool, probeTorch, toolPath, toolReport } from "./optional-tools.js";

const dir = mkdtempSync(join(tmpdir(), "unroll-tools-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Some Python 3 on this machine (every machine the project runs on has one), or null. */
function anyPython(): string | null {
  const r = spawnSync("sh", ["-c", "command -v python3"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** An interpreter that sees no site-packages, hence no PyTorch, whatever this machine has. */
function pythonWithoutPackages(): string {
  const python = anyPython();
  const wrapper = join(dir, "python-without-packages");
  writeFileSync(wrapper, python ? `#!/bin/sh\nexec ${python} -S "$@"\n` : "#!/bin/sh\nexit 127\n");
  chmodSync(wrapper, 0o755);
  return wrapper;
}

describe("finding PyTorch", () => {
  it("says no for an interpreter that does not exist, with the path and the way to install it", () => {
    const probe = probeTorch(join(dir, "no-such-python"));
    expect(probe.found).toBe(false);
    expect(probe.detail).toContain("no Python interpreter at");
    const message = missingMessage("pytorch", probe);
    expect(message).toContain("apt-get install python3-torch");
    expect(message).toContain("UNROLL_PYTHON");
    expect(message).toContain("UNROLL_REQUIRE_TORCH=1");
  });

  it("is not fooled by folders named torch and numpy beside the caller (the bench's old trap)", () => {
    const cwd = join(dir, "trap");
    for (const name of ["torch", "numpy"]) {
      mkdirSync(join(cwd, name), { recursive: true });
      writeFileSync(join(cwd, name, "__init__.py"), '__version__ = "0.0-not-the-real-one"\n');
    }
    const python = pythonWithoutPackages();
    // Without -I, `python -c` puts the working directory first on sys.path and these import.
    const naive = spawnSync(python, ["-c", "import torch, numpy; print(torch.__version__)"], { cwd, encoding: "utf8" });
    if (anyPython()) expect(naive.stdout.trim()).toBe("0.0-not-the-real-one");
    const probe = probeTorch(python, cwd);
    expect(probe.found).toBe(false);
    expect(probe.detail).toContain("cannot import torch");
  });

  it("reads the interpreter from UNROLL_PYTHON, and fails a test that needs it where UNROLL_REQUIRE_TORCH=1", () => {
    const env = { UNROLL_PYTHON: pythonWithoutPackages() };
    expect(toolPath("pytorch", env)).toBe(env.UNROLL_PYTHON);
    expect(probeTool("pytorch", env).found).toBe(false);
    expect(haveTool("pytorch", env)).toBe(false);
    expect(() => haveTool("pytorch", { ...env, UNROLL_REQUIRE_TORCH: "1" })).toThrow(/UNROLL_REQUIRE_TORCH=1, but PyTorch is not available/);
  });

  it("reports the versions where PyTorch is installed (only checkable there)", () => {
    const probe = probeTool("pytorch");
    if (probe.found) expect(probe.detail).toMatch(/torch \d+\.\d+.*numpy \d+\.\d+/);
    else expect(probe.detail).toMatch(/no Python interpreter|cannot import torch/);
  });
});

describe("finding Chromium", () => {
  it("reads the binary from UNROLL_CHROMIUM and fails where UNROLL_REQUIRE_BROWSER=1", () => {
    const env = { UNROLL_CHROMIUM: join(dir, "no-such-chromium") };
    expect(probeTool("chromium", env)).toEqual({ found: false, detail: `no Chromium at ${env.UNROLL_CHROMIUM}` });
    expect(haveTool("chromium", env)).toBe(false);
    expect(() => haveTool("chromium", { ...env, UNROLL_REQUIRE_BROWSER: "1" })).toThrow(/UNROLL_REQUIRE_BROWSER=1, but Chromium is not available/);
    expect(probeTool("chromium", { UNROLL_CHROMIUM: "/bin/sh" }).found).toBe(true);
  });
});

describe("the report", () => {
  it("names every tool, whether it was found and required, and what it decides", () => {
    const lines = toolReport({ UNROLL_CHROMIUM: join(dir, "none"), UNROLL_PYTHON: join(dir, "none"), UNROLL_REQUIRE_TORCH: "1" });
    const text = lines.join("\n");
    expect(text).toMatch(/Chromium: MISSING, optional: no Chromium at/);
    expect(text).toMatch(/PyTorch: MISSING, required \(UNROLL_REQUIRE_TORCH=1\): no Python interpreter at/);
    expect(text).toContain("decides: apps/playground");
    expect(text).toContain("decides: tooling/bench");
  });
});
