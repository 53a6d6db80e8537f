// A model summary, as Keras's `model.summary()` and torchinfo print one: the parameters of every
// module and tensor, and the total. It reads nothing but a state-dict-shaped record of shapes (a
// model's `parameterShapes()`: `{ "embedding.weight": [65, 64], "rnn.weight_ih_l0": [1024, 64], ... }`),
// so any model of the library, or a checkpoint's tensors, can be summarised.

/** One tensor of a summary. */
export interface SummaryTensor {
  /** Its name inside the module (`weight_ih_l0`). */
  readonly name: string;
  readonly shape: readonly number[];
  readonly parameters: number;
}

/** A module of a summary: the tensors that share a name prefix (and a layer, for stacked RNNs). */
export interface SummaryModule {
  /** `embedding`, `head`, `rnn (layer 0)`, `encoder.rnn (layer 1)`... */
  readonly name: string;
  readonly parameters: number;
  readonly tensors: readonly SummaryTensor[];
}

export interface ModelSummary {
  /** In the order of the shapes record. */
  readonly modules: readonly SummaryModule[];
  readonly total: number;
  /** The parameters' size in bytes at `bytesPerParameter` (4: float32). */
  readonly bytes: number;
}

// PyTorch's names of a stacked RNN's tensors: weight_ih_l0, bias_hh_l1_reverse.
const LAYER = /^(.*)_l(\d+)(_reverse)?$/;

/**
 * The parameters of a model, per module and in total, from a state-dict-shaped record of shapes.
 * A module is the part of a name before its last dot (`rnn.weight_ih_l0` is in `rnn`); the tensors
 * of a stacked RNN (PyTorch's `_l<k>` names) are grouped per layer, `rnn (layer 0)`, so a summary
 * shows the parameters of every layer. Shapes must be lists of non-negative integers.
 */
export function modelSummary(shapes: Readonly<Record<string, readonly number[]>>, options: { readonly bytesPerParameter?: number } = {}): ModelSummary {
  const modules = new Map<string, { parameters: number; tensors: SummaryTensor[] }>();
  let total = 0;
  for (const [path, shape] of Object.entries(shapes)) {
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new TypeError(`modelSummary: ${path} must have a shape of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const dot = path.lastIndexOf(".");
    let module = dot < 0 ? "" : path.slice(0, dot);
    const name = dot < 0 ? path : path.slice(dot + 1);
    const layer = LAYER.exec(name);
    if (layer) module = `${module === "" ? "" : `${module} `}(layer ${layer[2]})`;
    const parameters = shape.reduce((a, b) => a * b, 1);
    let entry = modules.get(module);
    if (!entry) {
      entry = { parameters: 0, tensors: [] };
      modules.set(module, entry);
    }
    entry.parameters += parameters;
    entry.tensors.push({ name, shape: [...shape], parameters });
    total += parameters;
  }
  return {
    modules: [...modules].map(([name, m]) => ({ name, parameters: m.parameters, tensors: m.tensors })),
    total,
    bytes: total * (options.bytesPerParameter ?? 4),
  };
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/**
 * A summary as a table, one row per module with its parameters and one indented row per tensor
 * with its shape, then the total and its size:
 *
 *     module / tensor          shape          parameters
 *     embedding                                    4,160
 *       weight                 [65, 64]            4,160
 *     rnn (layer 0)                              329,728
 *       weight_ih_l0           [1024, 64]         65,536
 *     ...
 *     total                                      350,593 (1.34 MiB as float32)
 */
export function formatModelSummary(summary: ModelSummary): string {
  const n = (v: number): string => v.toLocaleString("en-US");
  const rows: [string, string, string][] = [["module / tensor", "shape", "parameters"]];
  for (const m of summary.modules) {
    rows.push([m.name === "" ? "(top level)" : m.name, "", n(m.parameters)]);
    for (const t of m.tensors) rows.push([`  ${t.name}`, `[${t.shape.join(", ")}]`, n(t.parameters)]);
  }
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), i === 0 ? "total".length : 0));
  const line = (r: readonly string[]): string => `${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padEnd(widths[1]!)}  ${r[2]!.padStart(widths[2]!)}`.trimEnd();
  const rule = "-".repeat(widths[0]! + widths[1]! + widths[2]! + 4);
  const bytesPer = summary.total === 0 ? 4 : summary.bytes / summary.total;
  const as = bytesPer === 4 ? "float32" : bytesPer === 8 ? "float64" : `${bytesPer} bytes each`;
  return [
    line(rows[0]!),
    rule,
    ...rows.slice(1).map(line),
    rule,
    `${line(["total", "", n(summary.total)])} (${size(summary.bytes)} as ${as})`,
  ].join("\n");
}
