import type { Tensor } from "@unroll/tensor";

/**
 * Rebuilds a tree from `treeEntries` paths: dotted keys become nested plain objects, and objects
 * whose keys are exactly 0..n-1 become arrays. The empty path is a lone tensor.
 */
export function treeFromEntries(entries: readonly (readonly [string, Tensor])[]): unknown {
  if (entries.length === 1 && entries[0]![0] === "") return entries[0]![1];
  // Paths may come from a file: keys are own properties only, so "__proto__" or "constructor" is a
  // key like any other and never reaches Object.prototype.
  const define = (node: Record<string, unknown>, k: string, value: unknown): void => {
    Object.defineProperty(node, k, { value, enumerable: true, writable: true, configurable: true });
  };
  const root: Record<string, unknown> = {};
  for (const [path, t] of entries) {
    const keys = path.split(".");
    let node = root;
    keys.forEach((k, i) => {
      if (i === keys.length - 1) define(node, k, t);
      else {
        const child = Object.hasOwn(node, k) ? node[k] : undefined;
        if (typeof child === "object" && child !== null && Object.getPrototypeOf(child) === Object.prototype) node = child as Record<string, unknown>;
        else {
          const fresh: Record<string, unknown> = {};
          define(node, k, fresh);
          node = fresh;
        }
      }
    });
  }
  const arrays = (node: unknown): unknown => {
    if (typeof node !== "object" || node === null || !(Object.getPrototypeOf(node) === Object.prototype)) return node;
    const obj = node as Record<string, unknown>;
    const keys = Object.keys(obj);
    const mapped: Record<string, unknown> = {};
    for (const k of keys) define(mapped, k, arrays(obj[k]));
    const isArray = keys.length > 0 && keys.every((k, i) => k === String(i));
    return isArray ? keys.map((k) => mapped[k]) : mapped;
  };
  return arrays(root);
}
