import { Tensor } from "../tensor.js";

/**
 * Parameters as users hold them: a tensor, or arrays and plain objects of them, nested. `null` and
 * `undefined` are allowed as absent leaves (an optional bias). The functions below accept any
 * value and check this structure at run time, so interfaces and type aliases both work as
 * parameter types.
 */
export type TensorTree = Tensor | null | undefined | readonly TensorTree[] | { readonly [key: string]: TensorTree };

function isPlainObject(x: object): boolean {
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** The tensors of a tree in a fixed order (array order, then object key insertion order). */
export function treeLeaves(tree: unknown, path = "params"): Tensor[] {
  const out: Tensor[] = [];
  const walk = (node: TensorTree, at: string): void => {
    if (node === null || node === undefined) return;
    if (node instanceof Tensor) out.push(node);
    else if (Array.isArray(node)) node.forEach((child, i) => walk(child as TensorTree, `${at}[${i}]`));
    else if (typeof node === "object" && isPlainObject(node)) {
      for (const [k, v] of Object.entries(node)) walk(v as TensorTree, `${at}.${k}`);
    } else {
      throw new TypeError(`${at}: expected a tensor, an array or a plain object of tensors, found ${describe(node)}`);
    }
  };
  walk(tree as TensorTree, path);
  return out;
}

function describe(x: unknown): string {
  if (typeof x !== "object") return typeof x;
  return x?.constructor?.name ?? "object";
}

/** A tree of the same structure with each tensor replaced by `fn(tensor, index)`. */
export function treeMap<T>(tree: T, fn: (leaf: Tensor, index: number) => Tensor): T {
  let index = 0;
  const walk = (node: TensorTree): TensorTree => {
    if (node === null || node === undefined) return node;
    if (node instanceof Tensor) return fn(node, index++);
    if (Array.isArray(node)) return node.map((child) => walk(child as TensorTree));
    const out: Record<string, TensorTree> = {};
    for (const [k, v] of Object.entries(node)) out[k] = walk(v as TensorTree);
    return out;
  };
  return walk(tree as TensorTree) as T;
}
