import { isTensor, type Tensor } from "../tensor.js";

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
  return treeEntries(tree, path).map(([, t]) => t);
}

/**
 * The tensors of a tree with their paths, in `treeLeaves` order. Paths join keys and indices with
 * dots, as PyTorch's state_dict names do (`rnn.weight_ih_l0`, `layers.1.bias`); `prefix` names the
 * root in error messages only.
 */
export function treeEntries(tree: unknown, prefix = "params"): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  const walk = (node: TensorTree, at: string): void => {
    if (node === null || node === undefined) return;
    if (isTensor(node)) out.push([at, node]);
    else if (Array.isArray(node)) node.forEach((child, i) => walk(child as TensorTree, join(at, String(i))));
    else if (typeof node === "object" && isPlainObject(node)) {
      for (const [k, v] of Object.entries(node)) walk(v as TensorTree, join(at, k));
    } else {
      throw new TypeError(`${at || prefix}: expected a tensor, an array or a plain object of tensors, found ${describe(node)}`);
    }
  };
  walk(tree as TensorTree, "");
  return out;
}

function join(at: string, key: string): string {
  return at === "" ? key : `${at}.${key}`;
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
    if (isTensor(node)) return fn(node, index++);
    if (Array.isArray(node)) return node.map((child) => walk(child as TensorTree));
    const out: Record<string, TensorTree> = {};
    for (const [k, v] of Object.entries(node)) out[k] = walk(v as TensorTree);
    return out;
  };
  return walk(tree as TensorTree) as T;
}
