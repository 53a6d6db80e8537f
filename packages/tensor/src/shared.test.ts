// Two copies of @unroll/tensor in one process, as an install with a duplicate has them: the built
// package (dist) and copies of it that say they are another version. Copies of one release line
// share the kernel table, the recording tapes and the Tensor type; an incompatible copy's tensor
// is a clear error naming both versions.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type * as tensor from "./index.js";
import { releaseLine } from "./shared.js";
import { VERSION } from "./version.js";

type TensorModule = typeof tensor;

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as { name: string; version: string };
const temp = mkdtempSync(join(tmpdir(), "unroll-tensor-copies-"));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** A copy of the built package under node_modules/@unroll/tensor that reports `version`. */
async function copyAs(version: string): Promise<TensorModule> {
  const dir = join(temp, version, "node_modules", "@unroll", "tensor");
  cpSync(join(packageDir, "dist"), join(dir, "dist"), { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ ...pkg, version }, null, 2));
  const versionFile = join(dir, "dist", "version.js");
  const source = readFileSync(versionFile, "utf8");
  expect(source).toContain(JSON.stringify(pkg.version));
  writeFileSync(versionFile, source.replace(JSON.stringify(pkg.version), JSON.stringify(version)));
  return (await import(pathToFileURL(join(dir, "dist", "index.js")).href)) as TensorModule;
}

async function built(): Promise<TensorModule> {
  return (await import(pathToFileURL(join(packageDir, "dist", "index.js")).href)) as TensorModule;
}

const [major, minor, patch] = pkg.version.split(".").map(Number) as [number, number, number];
const samePatchLine = `${major}.${minor}.${patch + 1}`;
const otherLine = major === 0 ? `0.${minor + 1}.0` : `${major + 1}.0.0`;

describe("the package's version", () => {
  it("is package.json's, and names its release line", () => {
    expect(VERSION).toBe(pkg.version);
    expect(releaseLine("0.1.7")).toBe("0.1");
    expect(releaseLine("0.2.0")).toBe("0.2");
    expect(releaseLine("1.4.2")).toBe("1");
  });
});

describe("two copies of one release line", () => {
  it("are distinct modules whose tensors are Tensors to each other", async () => {
    const a = await built();
    const b = await copyAs(samePatchLine);
    expect(a.Tensor).not.toBe(b.Tensor);
    expect(b.fromArray([1, 2]) instanceof a.Tensor).toBe(true);
    expect(a.fromArray([1, 2]) instanceof b.Tensor).toBe(true);
    expect({ data: new Float32Array(1), shape: [1] } instanceof a.Tensor).toBe(false);
    expect((null as unknown) instanceof a.Tensor).toBe(false);
    // Operations of one copy take the other's tensors (asTensor, where, treeLeaves check instanceof).
    const sum = a.add(b.fromArray([1, 2]), 1);
    expect([...sum.data]).toEqual([2, 3]);
    expect(b.treeLeaves({ x: a.fromArray([3]) })).toHaveLength(1);
  });

  it("share one kernel table: setKernels through either reaches both", async () => {
    const a = await built();
    const b = await copyAs(samePatchLine);
    let binaryCalls = 0;
    const reference = a.referenceKernels;
    const counting: typeof reference = {
      ...reference,
      name: "counting",
      binary: (...args: Parameters<typeof reference.binary>) => {
        binaryCalls++;
        return reference.binary(...args);
      },
    };
    const previous = a.setKernels(counting);
    try {
      expect(b.getKernels()).toBe(counting);
      b.mul(b.fromArray([1, 2]), 2);
      expect(binaryCalls).toBe(1);
    } finally {
      b.setKernels(previous);
    }
    expect(a.getKernels().name).toBe("reference");
    expect(b.withKernels(counting, () => a.getKernels())).toBe(counting);
  });

  it("share the recording tapes: a gradient flows through operations of the other copy", async () => {
    const a = await built();
    const b = await copyAs(samePatchLine);
    const w = a.fromArray([1, 2, 3]);
    const { value, grads } = a.valueAndGrad((p: { w: tensor.Tensor }) => b.sum(b.mul(p.w, p.w)))({ w });
    expect(value.item()).toBe(14);
    expect([...grads.w.data]).toEqual([2, 4, 6]);
    a.valueAndGrad((p: { w: tensor.Tensor }) => {
      expect(a.isRecording()).toBe(true);
      b.noGrad(() => expect(a.isRecording()).toBe(false));
      return b.sum(p.w);
    })({ w });
  });
});

describe("copies of incompatible release lines", () => {
  it("keep their own state, and a tensor crossing from one to the other is an error naming both versions", async () => {
    const a = await built();
    const c = await copyAs(otherLine);
    const counting = { ...c.referenceKernels, name: "other line" };
    const previous = c.setKernels(counting);
    try {
      expect(a.getKernels().name).toBe("reference");
    } finally {
      c.setKernels(previous);
    }
    const foreign = c.fromArray([1, 2]);
    const message = `Tensor: a tensor made by @unroll/tensor ${otherLine} reached @unroll/tensor ${pkg.version}: two incompatible copies are installed`;
    expect(() => foreign instanceof a.Tensor).toThrow(message);
    expect(() => a.add(foreign, 1)).toThrow(a.TensorError);
    expect(() => a.add(foreign, 1)).toThrow(/npm ls @unroll\/tensor/);
  });
});
