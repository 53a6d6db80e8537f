import { fromArray, type Tensor, TensorError } from "@unroll/tensor";

/**
 * Weights as JSON, keyed by PyTorch's state_dict names, with a format tag and version checked on
 * load. From PyTorch:
 *   json.dump({"format": "unroll-state-dict", "version": 1, "tensors": {k: {"shape": list(v.shape),
 *     "data": v.flatten().tolist()} for k, v in model.state_dict().items()}}, f)
 * Once the training package adds safetensors, that is the binary form of the same mapping.
 */
export interface StateDictJSON {
  readonly format: "unroll-state-dict";
  readonly version: 1;
  readonly tensors: Readonly<Record<string, { readonly shape: readonly number[]; readonly data: readonly number[] }>>;
}

export function toStateDictJSON(params: Readonly<Record<string, Tensor>>): StateDictJSON {
  const tensors: Record<string, { shape: number[]; data: number[] }> = {};
  for (const [name, t] of Object.entries(params)) tensors[name] = { shape: [...t.shape], data: Array.from(t.data) };
  return { format: "unroll-state-dict", version: 1, tensors };
}

/**
 * Reads a state dict written by `toStateDictJSON` (or by the PyTorch snippet above). With
 * `expected` (e.g. `layer.parameterShapes()`), every name and shape is checked: a missing,
 * unexpected or misshapen tensor is an error that names it, and nothing is returned.
 */
export function fromStateDictJSON(json: unknown, expected?: Readonly<Record<string, readonly number[]>>): Record<string, Tensor> {
  const doc = json as Partial<StateDictJSON> | null;
  if (typeof doc !== "object" || doc === null || doc.format !== "unroll-state-dict") {
    throw new TensorError("fromStateDictJSON", `not an unroll state dict (expected "format": "unroll-state-dict")`);
  }
  if (doc.version !== 1) throw new TensorError("fromStateDictJSON", `unsupported state dict version ${String(doc.version)} (this library reads version 1)`);
  const tensors = doc.tensors ?? {};
  // Names come from a file: own properties and Map keys only, so "__proto__" or "toString" is a name
  // like any other (an unexpected one), never a prototype or one of Object's methods.
  const out: Record<string, Tensor> = {};
  const byName = new Map<string, Tensor>();
  for (const [name, entry] of Object.entries(tensors)) {
    if (!entry || !Array.isArray(entry.shape) || !Array.isArray(entry.data)) {
      throw new TensorError("fromStateDictJSON", `tensor ${name} needs "shape" and "data" arrays`);
    }
    const t = fromArray(entry.data, { shape: entry.shape });
    byName.set(name, t);
    Object.defineProperty(out, name, { value: t, enumerable: true, writable: true, configurable: true });
  }
  if (expected) {
    const problems: string[] = [];
    const want = new Map(Object.entries(expected));
    for (const [name, shape] of want) {
      const t = byName.get(name);
      if (!t) problems.push(`missing ${name}`);
      else if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        problems.push(`${name} has shape [${t.shape.join(",")}], expected [${shape.join(",")}]`);
      }
    }
    for (const name of byName.keys()) if (!want.has(name)) problems.push(`unexpected ${name}`);
    if (problems.length > 0) {
      throw new TensorError("fromStateDictJSON", `the state dict does not fit this model: ${problems.join("; ")}`);
    }
  }
  return out;
}
