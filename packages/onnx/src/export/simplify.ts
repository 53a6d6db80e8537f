import { DataType, type NodeProto, type TensorProto } from "../proto/onnx.js";
import type { GraphBuilder } from "./builder.js";

// Peephole clean-up of a lowered graph. Lowerings are written one primitive at a time, so the
// seams between them hold no-ops: a layer squeezes a state slice that the LSTM operator
// unsqueezes again, a stack unsqueezes the Y_h that was just squeezed, a one-direction concat is
// an Identity. Every node costs onnxruntime a dispatch, which at batch 1 is a real share of a
// step, so they go: Identity nodes, Unsqueeze(Squeeze(x, a), a) and Squeeze(Unsqueeze(x, a), a)
// become x, then nodes and initializers that nothing reads are dropped. Graph outputs are kept.
// One rewrite moves work rather than removing it: a Squeeze of leading axes after a projection
// (the step graph's `squeeze(h Wᵀ + b, 0)`) moves before it, so that the product is a plain
// matrix product that onnxruntime fuses with the bias into one Gemm, as PyTorch's exports have it.

function sameBytes(a: TensorProto | undefined, b: TensorProto | undefined): boolean {
  if (!a?.raw_data || !b?.raw_data || a.data_type !== b.data_type || a.raw_data.length !== b.raw_data.length) return false;
  return a.raw_data.every((v, i) => v === b.raw_data![i]);
}

export function simplify(b: GraphBuilder, outputs: readonly string[]): void {
  const keep = new Set(outputs);
  const initializers = new Map(b.initializers.map((t) => [t.name, t]));
  const producer = new Map<string, NodeProto>();
  const alias = new Map<string, string>();
  const resolve = (name: string): string => {
    let n = name;
    for (let next = alias.get(n); next !== undefined; next = alias.get(n)) n = next;
    return n;
  };
  const nodes: NodeProto[] = [];
  for (const node of b.nodes) {
    node.input = node.input.map((x) => (x === "" ? x : resolve(x)));
    const out = node.output[0];
    if (node.output.length === 1 && out !== undefined && !keep.has(out)) {
      if (node.op_type === "Identity") {
        alias.set(out, node.input[0]!);
        continue;
      }
      const inverse = node.op_type === "Unsqueeze" ? "Squeeze" : node.op_type === "Squeeze" ? "Unsqueeze" : null;
      const before = inverse ? producer.get(node.input[0]!) : undefined;
      if (before && before.op_type === inverse && sameBytes(initializers.get(node.input[1]!), initializers.get(before.input[1]!))) {
        alias.set(out, before.input[0]!);
        continue;
      }
    }
    for (const y of node.output) producer.set(y, node);
    nodes.push(node);
  }
  sinkSqueezes(b, nodes, keep);
  // Dead code: keep the nodes that the outputs depend on.
  const live = new Set<string>(outputs);
  const kept: NodeProto[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (!node.output.some((y) => live.has(y))) continue;
    for (const x of node.input) if (x !== "") live.add(x);
    kept.push(node);
  }
  kept.reverse();
  b.nodes.splice(0, b.nodes.length, ...kept);
  const read = new Set(kept.flatMap((n) => n.input));
  for (const name of outputs) read.add(name);
  const used = b.initializers.filter((t) => read.has(t.name));
  for (const t of b.initializers) if (!used.includes(t)) b.sources.delete(t.name);
  b.initializers.splice(0, b.initializers.length, ...used);
}

function int64Values(t: TensorProto | undefined): number[] | null {
  if (!t?.raw_data || t.data_type !== DataType.INT64) return null;
  const bytes = t.raw_data;
  return Array.from(new BigInt64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), Number);
}

/**
 * Squeeze(Add(...Add(MatMul(a, w), c)...), axes) -> Add(...Add(MatMul(Squeeze(a, axes), w), c)...)
 * when `w` is a matrix, the squeezed axes are batch axes of `a`, each `c` broadcasts over them
 * (its rank leaves them out) and every value on the way is read once.
 */
function sinkSqueezes(b: GraphBuilder, nodes: NodeProto[], keep: ReadonlySet<string>): void {
  const initializers = new Map(b.initializers.map((t) => [t.name, t]));
  const producer = new Map<string, NodeProto>();
  const uses = new Map<string, number>();
  for (const n of nodes) {
    for (const y of n.output) producer.set(y, n);
    for (const x of n.input) uses.set(x, (uses.get(x) ?? 0) + 1);
  }
  const rankOf = (v: string): number | undefined => {
    const r = b.ranks.get(v);
    if (r !== undefined) return r;
    const p = producer.get(v);
    return p?.op_type === "Transpose" ? rankOf(p.input[0]!) : undefined;
  };
  const once = (v: string): boolean => uses.get(v) === 1 && !keep.has(v);
  for (const squeeze of [...nodes]) {
    if (squeeze.op_type !== "Squeeze") continue;
    const axes = int64Values(initializers.get(squeeze.input[1] ?? ""));
    if (!axes || axes.some((a) => a < 0)) continue;
    const chain: NodeProto[] = [];
    let v = squeeze.input[0]!;
    let matmul: NodeProto | null = null;
    for (let p = producer.get(v); p && once(v); p = producer.get(v)) {
      if (p.op_type === "MatMul") {
        const ra = b.ranks.get(p.input[0]!);
        if (ra !== undefined && rankOf(p.input[1]!) === 2 && axes.every((a) => a < ra - 2)) matmul = p;
        break;
      }
      if (p.op_type !== "Add") break;
      const r = b.ranks.get(p.output[0]!);
      const k = [0, 1].find((i) => {
        const other = rankOf(p.input[1 - i]!);
        return r !== undefined && other !== undefined && axes.every((a) => a < r - other) && producer.get(p.input[i]!)?.op_type !== undefined;
      });
      if (k === undefined) break;
      chain.push(p);
      v = p.input[k]!;
    }
    if (!matmul) continue;
    const squeezed = b.unique(`${squeeze.output[0]}/input`);
    const moved: NodeProto = { ...squeeze, input: [matmul.input[0]!, squeeze.input[1]!], output: [squeezed] };
    matmul.input[0] = squeezed;
    for (const n of [matmul, ...chain]) b.ranks.set(n.output[0]!, b.ranks.get(n.output[0]!)! - axes.length);
    (chain[0] ?? matmul).output[0] = squeeze.output[0]!;
    nodes.splice(nodes.indexOf(squeeze), 1);
    nodes.splice(nodes.indexOf(matmul), 0, moved);
  }
}
