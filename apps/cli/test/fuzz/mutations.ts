// Mutations of the files users hand to unroll, as fast-check arbitraries: byte-level damage (bit
// flips, overwritten bytes, cuts, insertions), and structure-aware edits of JSON documents (a value
// replaced by one of another type, a key removed, a key added, names like "__proto__" included).
import fc from "fast-check";

/** One change to a byte string. Positions are taken modulo the length, so any input fits. */
export type ByteMutation =
  | { readonly kind: "flip"; readonly at: number; readonly bit: number }
  | { readonly kind: "set"; readonly at: number; readonly value: number }
  | { readonly kind: "truncate"; readonly at: number }
  | { readonly kind: "insert"; readonly at: number; readonly bytes: Uint8Array }
  | { readonly kind: "delete"; readonly at: number; readonly length: number }
  | { readonly kind: "replace"; readonly bytes: Uint8Array };

// Uniform, not biased toward small values: a damaged byte is as likely at the end of a file as at its start.
const position = fc.noBias(fc.nat({ max: 2 ** 30 }));
const at = (p: number, length: number): number => (length === 0 ? 0 : p % length);

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("flip" as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("set" as const), at: position, value: fc.constantFrom(0, 0x20, 0x22, 0x2c, 0x30, 0x39, 0x5b, 0x7b, 0x7d, 0x80, 0xff) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: position }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("insert" as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), at: position, length: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("replace" as const), bytes: fc.uint8Array({ minLength: 0, maxLength: 200 }) }) },
);

export const byteMutations = fc.array(byteMutation, { minLength: 1, maxLength: 3 });

/** `bytes` with `mutations` applied (a new array; `bytes` is not changed). */
export function mutateBytes(bytes: Uint8Array, mutations: readonly ByteMutation[]): Uint8Array {
  let out = Uint8Array.from(bytes);
  for (const m of mutations) {
    const i = m.kind === "replace" ? 0 : m.kind === "truncate" || m.kind === "insert" ? at(m.at, out.length + 1) : at(m.at, out.length);
    switch (m.kind) {
      case "flip":
        if (out.length > 0) out[i] = out[i]! ^ (1 << m.bit);
        break;
      case "set":
        if (out.length > 0) out[i] = m.value;
        break;
      case "truncate":
        out = out.slice(0, i);
        break;
      case "insert": {
        const next = new Uint8Array(out.length + m.bytes.length);
        next.set(out.subarray(0, i));
        next.set(m.bytes, i);
        next.set(out.subarray(i), i + m.bytes.length);
        out = next;
        break;
      }
      case "delete": {
        const end = Math.min(out.length, i + m.length);
        const next = new Uint8Array(out.length - (end - i));
        next.set(out.subarray(0, i));
        next.set(out.subarray(end), i);
        out = next;
        break;
      }
      case "replace":
        out = Uint8Array.from(m.bytes);
        break;
    }
  }
  return out;
}

/** Values a careless or hostile edit puts where another was. */
export const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, -0, 2 ** 53, "", "fast", "NaN", "__proto__", [], {}, [16]),
  fc.integer({ min: -1000, max: 1_000_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 12 }),
  fc.jsonValue({ maxDepth: 2 }),
);

/** Keys that look up something other than the document's own fields when code uses `in` or `obj[key]`. */
export const oddKey: fc.Arbitrary<string> = fc.oneof(fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "valueOf", ""), fc.string({ maxLength: 8 }));

/** One structural edit of a JSON document. `pick` chooses the node (modulo the number of nodes). */
export type JsonMutation =
  | { readonly kind: "replace"; readonly pick: number; readonly value: unknown }
  | { readonly kind: "delete"; readonly pick: number }
  | { readonly kind: "add"; readonly pick: number; readonly key: string; readonly value: unknown };

export const jsonMutation: fc.Arbitrary<JsonMutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("replace" as const), pick: position, value: oddValue }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), pick: position }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("add" as const), pick: position, key: oddKey, value: oddValue }) },
);

export const jsonMutations = fc.array(jsonMutation, { minLength: 1, maxLength: 3 });

type Container = Record<string, unknown> | unknown[];

function define(target: Container, key: string | number, value: unknown): void {
  // Own properties only: an edit adding "__proto__" adds a key, as JSON.parse would read it.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A deep copy through JSON, which keeps "__proto__" keys as own keys. */
const clone = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

/** A copy of the parsed JSON `doc` with `mutations` applied. */
export function mutateJson(doc: unknown, mutations: readonly JsonMutation[]): unknown {
  const root: { doc: unknown } = { doc: clone(doc) };
  for (const m of mutations) {
    // Every (container, key) pair, the root included.
    const nodes: [Container, string | number][] = [[root as unknown as Container, "doc"]];
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach((v, i) => (nodes.push([value, i]), walk(v)));
      else if (typeof value === "object" && value !== null) {
        for (const k of Object.keys(value)) {
          nodes.push([value as Record<string, unknown>, k]);
          walk((value as Record<string, unknown>)[k]);
        }
      }
    };
    walk(root.doc);
    const [container, key] = nodes[at(m.pick, nodes.length)]!;
    const current = (container as Record<string | number, unknown>)[key];
    if (m.kind === "replace") define(container, key, clone(m.value));
    else if (m.kind === "delete" && container !== (root as unknown)) {
      if (Array.isArray(container)) container.splice(Number(key), 1);
      else delete (container as Record<string, unknown>)[key as string];
    } else if (m.kind === "add") {
      const target = typeof current === "object" && current !== null ? (current as Container) : container;
      if (Array.isArray(target)) target.push(clone(m.value));
      else define(target, m.key, clone(m.value));
    }
  }
  return root.doc;
}
