import type { Tensor } from "@unroll/tensor";

/**
 * Rebuilds a tree from `treeEntries` paths: dotted keys become nested plain objects, and objects
 * whose keys are exactly 0..n-1 become arrays. The empty path is a lone tensor.
 */
export function treeFromEntries(entries: readonly (readonly [string, Tensor])[]): unknown {
  if (entries.length === 1 && entries[0]![0] === "") return entries[0]![1];
  const root: Record<string, unknown> = {};
  for (const [path, t] of entries) {
    const keys = path.split(".");
    let node = root;
    keys.forEach((k, i) => {
      if (i === keys.length - 1) node[k] = t;
      else node = (node[k] ??= {}) as Record<string, unknown>;
    });
  }
  const arrays = (node: unknown): unknown => {
    if (typeof node !== "object" || node === null || !(Object.getPrototypeOf(node) === Object.prototype)) return node;
    const obj = node as Record<string, unknown>;
    const keys = Object.keys(obj);
    const mapped = Object.fromEntries(keys.map((k) => [k, arrays(obj[k])]));
    const isArray = keys.length > 0 && keys.every((k, i) => k === String(i));
    return isArray ? keys.map((k) => mapped[k]) : mapped;
  };
  return arrays(root);
}
