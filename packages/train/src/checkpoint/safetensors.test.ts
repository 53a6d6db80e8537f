// The safetensors reader and writer against files written by the official library
// (fixtures/hf-written.*, from scripts/generate_safetensors_fixture.py), round trips of every dtype,
// and every way a file can be broken.
import { readFileSync } from "node:fs";
import { type DType, fromArray, Tensor } from "@unroll/tensor";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CheckpointError, decodeSafetensors, encodeSafetensors } from "./index.js";

interface FixtureTensor {
  readonly dtype: DType;
  readonly shape: number[];
  /** Each element's bit pattern, hex (8 digits for F32/I32, 16 for F64). */
  readonly bits: string[];
  /** The same elements as numbers, or "NaN", "Infinity", "-Infinity". */
  readonly values: (number | string)[];
}

interface FixtureCase {
  readonly description: string;
  readonly metadata: Record<string, string> | null;
  readonly tensors: Record<string, FixtureTensor>;
  readonly hex: string;
}

interface Fixture {
  readonly format: string;
  readonly version: number;
  readonly bytes: number;
  readonly header_bytes: number;
  readonly metadata: Record<string, string>;
  readonly order: string[];
  readonly tensors: Record<string, FixtureTensor>;
  readonly cases: FixtureCase[];
}

const FIXTURES = new URL("../../fixtures/", import.meta.url);
const fixture = JSON.parse(readFileSync(new URL("hf-written.json", FIXTURES), "utf8")) as Fixture;
const hfBytes = new Uint8Array(readFileSync(new URL("hf-written.safetensors", FIXTURES)));

/** A tensor with exactly these element bit patterns, built without the code under test. */
function tensorFromBits(t: FixtureTensor): Tensor {
  if (t.dtype === "float64") {
    const words = new BigUint64Array(t.bits.map((h) => BigInt(`0x${h}`)));
    return new Tensor(new Float64Array(words.buffer), t.shape);
  }
  const words = new Uint32Array(t.bits.map((h) => parseInt(h, 16)));
  return new Tensor(t.dtype === "float32" ? new Float32Array(words.buffer) : new Int32Array(words.buffer), t.shape);
}

function bitsOf(t: Tensor): string[] {
  const d = t.data;
  if (d instanceof Float64Array) {
    return Array.from(new BigUint64Array(d.buffer, d.byteOffset, d.length), (w) => w.toString(16).padStart(16, "0"));
  }
  return Array.from(new Uint32Array(d.buffer, d.byteOffset, d.length), (w) => w.toString(16).padStart(8, "0"));
}

function tensorsFromFixture(tensors: Record<string, FixtureTensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(tensors)) out[name] = tensorFromBits(t);
  return out;
}

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/** A safetensors file from a header string (padded to 8 bytes) and `dataBytes` bytes of data. */
function craft(header: string, dataBytes = 0, pad = true): Uint8Array {
  let json = Buffer.from(header, "utf8");
  if (pad && json.length % 8 !== 0) json = Buffer.concat([json, Buffer.alloc(8 - (json.length % 8), 0x20)]);
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  for (let i = 0; i < dataBytes; i++) out[8 + json.length + i] = i & 0xff;
  return out;
}

function patch(bytes: Uint8Array, changes: Readonly<Record<number, number>>): Uint8Array {
  const out = bytes.slice();
  for (const [i, v] of Object.entries(changes)) out[Number(i)] = v;
  return out;
}

function headerText(bytes: Uint8Array): string {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return Buffer.from(bytes.subarray(8, 8 + n)).toString("utf8");
}

function decodeError(bytes: Uint8Array): CheckpointError {
  try {
    decodeSafetensors(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error("decodeSafetensors accepted a broken file");
}

describe("files written by the official safetensors library", () => {
  it("the fixture is the one this test was written for", () => {
    expect(fixture.format).toBe("unroll-safetensors-fixture");
    expect(fixture.version).toBe(1);
    expect(hfBytes.length).toBe(fixture.bytes);
    // Every dtype, a scalar and an empty tensor of each, so the golden tests below cover them.
    const kinds = Object.values(fixture.tensors).map((t) => `${t.dtype}:${t.shape.length === 0 ? "scalar" : t.shape.includes(0) ? "empty" : "full"}`);
    for (const dtype of ["float32", "float64", "int32"]) {
      for (const kind of ["scalar", "empty", "full"]) expect(kinds).toContain(`${dtype}:${kind}`);
    }
  });

  it("reads hf-written.safetensors: names in file order, dtypes, shapes, bit patterns, metadata", () => {
    const { tensors, metadata } = decodeSafetensors(hfBytes);
    expect(metadata).toEqual(fixture.metadata);
    expect(Object.keys(tensors)).toEqual(fixture.order);
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(fixture.tensors).sort());
    for (const [name, want] of Object.entries(fixture.tensors)) {
      const t = tensors[name]!;
      expect(t.dtype, name).toBe(want.dtype);
      expect(t.shape, name).toEqual(want.shape);
      expect(bitsOf(t), name).toEqual(want.bits);
      want.values.forEach((v, i) => {
        const got = t.data[i]!;
        if (v === "NaN") expect(Number.isNaN(got), `${name}[${i}]`).toBe(true);
        else expect(Object.is(got, v === "Infinity" ? Infinity : v === "-Infinity" ? -Infinity : v), `${name}[${i}] = ${got}, want ${v}`).toBe(true);
      });
    }
  });

  it("writes hf-written.safetensors byte for byte, whatever the order of the input", () => {
    const tensors = tensorsFromFixture(fixture.tensors);
    const encoded = encodeSafetensors(tensors, fixture.metadata);
    expect(encoded.length).toBe(hfBytes.length);
    expect(toHex(encoded)).toBe(toHex(hfBytes));

    const reversed = Object.fromEntries(Object.entries(tensors).reverse());
    const reversedMeta = Object.fromEntries(Object.entries(fixture.metadata).reverse());
    expect(toHex(encodeSafetensors(reversed, reversedMeta))).toBe(toHex(hfBytes));
  });

  for (const c of fixture.cases) {
    it(`writes and reads the official output for: ${c.description}`, () => {
      const tensors = tensorsFromFixture(c.tensors);
      expect(toHex(encodeSafetensors(tensors, c.metadata ?? undefined))).toBe(c.hex);
      const decoded = decodeSafetensors(fromHex(c.hex));
      expect(decoded.metadata).toEqual(c.metadata ?? {});
      expect(Object.keys(decoded.tensors).sort()).toEqual(Object.keys(c.tensors).sort());
      for (const [name, want] of Object.entries(c.tensors)) {
        expect(decoded.tensors[name]!.dtype).toBe(want.dtype);
        expect(decoded.tensors[name]!.shape).toEqual(want.shape);
        expect(bitsOf(decoded.tensors[name]!)).toEqual(want.bits);
      }
    });
  }
});

describe("encodeSafetensors layout", () => {
  it("sorts metadata keys by UTF-8 bytes (U+FFFD before U+1F600, unlike UTF-16 order)", () => {
    const bytes = encodeSafetensors({}, { b: "2", "\u{1F600}": "4", a: "1", "\uFFFD": "3" });
    expect(headerText(bytes)).toBe('{"__metadata__":{"a":"1","b":"2","\uFFFD":"3","\u{1F600}":"4"}} '); // 55 bytes + 1 space
  });

  it("writes valid JSON for empty metadata and no tensors (the official writer does not)", () => {
    const bytes = encodeSafetensors({}, {});
    // 19 bytes of JSON, padded with 5 spaces to 24.
    expect(Array.from(bytes.subarray(0, 8))).toEqual([24, 0, 0, 0, 0, 0, 0, 0]);
    expect(Buffer.from(bytes.subarray(8)).toString("latin1")).toBe('{"__metadata__":{}}     ');
    expect(decodeSafetensors(bytes)).toEqual({ tensors: {}, metadata: {} });
  });

  it("writes a tensor that is a view into a larger buffer from its own elements only", () => {
    const backing = new Float32Array([9, 1, 2, 3, 9]);
    const view = new Tensor(backing.subarray(1, 4), [3]);
    const bytes = encodeSafetensors({ v: view });
    expect(Array.from(bytes.subarray(bytes.length - 12))).toEqual([0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40]);
  });

  it("rejects what safetensors cannot hold, with a CheckpointError", () => {
    const t = fromArray([1]);
    const cases: [() => unknown, RegExp][] = [
      [() => encodeSafetensors({ __metadata__: t }), /reserved/],
      [() => encodeSafetensors({ ["bad\uD800name"]: t }), /lone UTF-16 surrogate/],
      [() => encodeSafetensors({ x: [1, 2] as unknown as Tensor }), /"x" is not a Tensor/],
      [() => encodeSafetensors({ x: t }, { step: 3 as unknown as string }), /metadata "step" must be a string/],
      [() => encodeSafetensors({ x: t }, { "\uDC00": "v" }), /metadata key "\\udc00" has a lone UTF-16 surrogate at index 0/],
      [() => encodeSafetensors({ x: t }, { k: "ab\uD83D" }), /the value of metadata "k" has a lone UTF-16 surrogate at index 2/],
      [() => encodeSafetensors(null as unknown as Record<string, Tensor>), /tensors must be an object/],
    ];
    for (const [fn, message] of cases) {
      expect(fn).toThrow(CheckpointError);
      expect(fn).toThrow(message);
    }
  });
});

describe("round trips", () => {
  const f32Specials = [NaN, -0, 0, Infinity, -Infinity, 1.401298464324817e-45, 3.4028234663852886e38, -1.5];
  const f64Specials = [NaN, -0, 0, Infinity, -Infinity, 5e-324, 1.7976931348623157e308, 0.1];

  it("keeps every dtype, shape and bit pattern (NaN payloads, -0, infinities, denormals)", () => {
    const payloadNaN = new Float32Array(new Uint32Array([0x7fa00001, 0xffc00abc]).buffer);
    const payloadNaN64 = new Float64Array(new BigUint64Array([0x7ff0000000000123n]).buffer);
    const tensors: Record<string, Tensor> = {
      f32: fromArray(f32Specials, { dtype: "float32", shape: [2, 4] }),
      f32nan: new Tensor(payloadNaN, [2]),
      f64: fromArray(f64Specials, { dtype: "float64", shape: [4, 1, 2] }),
      f64nan: new Tensor(payloadNaN64, []),
      i32: fromArray([-2147483648, 2147483647, -1, 0, 7], { dtype: "int32" }),
      scalar32: fromArray(-0, { dtype: "float32" }),
      scalar64: fromArray(Math.PI, { dtype: "float64" }),
      scalarI: fromArray(-5, { dtype: "int32" }),
      empty32: new Tensor(new Float32Array(0), [0]),
      empty64: new Tensor(new Float64Array(0), [2, 0, 3]),
      emptyI: new Tensor(new Int32Array(0), [0, 1]),
      odd: fromArray(Array.from({ length: 15 }, (_, i) => i / 7), { shape: [1, 5, 3, 1] }),
    };
    const meta = { format: "pt", "unicode \u00e9": "line\nbreak \u{1F600}" };
    const { tensors: back, metadata } = decodeSafetensors(encodeSafetensors(tensors, meta));
    expect(metadata).toEqual(meta);
    expect(Object.keys(back).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      expect(back[name]!.dtype, name).toBe(t.dtype);
      expect(back[name]!.shape, name).toEqual(t.shape);
      expect(bitsOf(back[name]!), name).toEqual(bitsOf(t));
    }
    // Payload aside, a NaN stays a NaN and -0 stays -0.
    expect(Number.isNaN(back["f32"]!.data[0]!)).toBe(true);
    expect(Object.is(back["f32"]!.data[1], -0)).toBe(true);
    expect(Object.is(back["scalar32"]!.item(), -0)).toBe(true);
    expect(Number.isNaN(back["f64nan"]!.item())).toBe(true);
    expect(back["f64"]!.data[3]).toBe(Infinity);
  });

  it("round-trips arbitrary names, dtypes, shapes and bit patterns (property)", () => {
    const dtype = fc.constantFrom<DType>("float32", "float64", "int32");
    const shape = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 });
    const entry = fc.tuple(dtype, shape, fc.integer({ min: 0, max: 2 ** 32 - 1 }));
    const arb = fc.dictionary(fc.string({ unit: "grapheme", maxLength: 6 }).filter((k) => k !== "__metadata__"), entry, { maxKeys: 6 });
    fc.assert(
      fc.property(arb, fc.dictionary(fc.string({ unit: "grapheme", maxLength: 4 }), fc.string({ unit: "grapheme", maxLength: 6 }), { maxKeys: 3 }), (spec, meta) => {
        const tensors: Record<string, Tensor> = {};
        for (const [name, [dt, sh, seed]] of Object.entries(spec)) {
          const n = sh.reduce((a, b) => a * b, 1);
          const words = new Uint32Array((dt === "float64" ? 2 : 1) * n).map((_, i) => (seed + i * 0x9e3779b9) >>> 0);
          const data = dt === "float64" ? new Float64Array(words.buffer) : dt === "float32" ? new Float32Array(words.buffer) : new Int32Array(words.buffer);
          Object.defineProperty(tensors, name, { value: new Tensor(data, sh), enumerable: true });
        }
        const back = decodeSafetensors(encodeSafetensors(tensors, meta));
        expect(back.metadata).toEqual({ ...meta });
        expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(tensors).sort());
        for (const [name, t] of Object.entries(tensors)) {
          expect(back.tensors[name]!.shape).toEqual(t.shape);
          expect(back.tensors[name]!.dtype).toBe(t.dtype);
          expect(bitsOf(back.tensors[name]!)).toEqual(bitsOf(t));
        }
      }),
      { numRuns: 200, seed: 1234 },
    );
  });

  it("decodes into independent buffers: neither the input bytes nor another tensor is shared", () => {
    const bytes = hfBytes.slice();
    const { tensors } = decodeSafetensors(bytes);
    const buffers = new Set(Object.values(tensors).map((t) => t.data.buffer));
    expect(buffers.size).toBe(Object.keys(tensors).length);
    expect(buffers.has(bytes.buffer)).toBe(false);
    const w = tensors["rnn.weight_ih_l0"]!;
    w.data[0] = 123;
    expect(toHex(bytes)).toBe(toHex(hfBytes));
    expect(decodeSafetensors(bytes).tensors["rnn.weight_ih_l0"]!.data[0]).not.toBe(123);
  });

  it("keeps a tensor named __proto__ as an ordinary entry", () => {
    const t = fromArray([1, 2]);
    const input: Record<string, Tensor> = {};
    Object.defineProperty(input, "__proto__", { value: t, enumerable: true });
    const { tensors } = decodeSafetensors(encodeSafetensors(input));
    expect(Object.keys(tensors)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
    expect(Array.from(Object.getOwnPropertyDescriptor(tensors, "__proto__")!.value.data as Float32Array)).toEqual([1, 2]);
  });

  it("accepts zero-length tensors that share an offset, as the official reader does", () => {
    const bytes = craft('{"c":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F64","shape":[2,0],"data_offsets":[4,4]}}', 4);
    const { tensors } = decodeSafetensors(bytes);
    expect(Object.keys(tensors)).toEqual(["c", "a", "b"]);
    expect(tensors["b"]!.shape).toEqual([2, 0]);
    expect(Array.from(tensors["a"]!.data)).toEqual([0x03020100]);
  });
});

describe("decodeSafetensors rejects broken files with a CheckpointError naming the problem", () => {
  const F32 = (shape: string, offsets: string): string => `{"dtype":"F32","shape":${shape},"data_offsets":${offsets}}`;
  const lengthPrefix = (n: number, hi = 0): Uint8Array => {
    const b = new Uint8Array(16);
    new DataView(b.buffer).setUint32(0, n, true);
    new DataView(b.buffer).setUint32(4, hi, true);
    return b;
  };
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1]);

  const cases: [string, Uint8Array, RegExp][] = [
    ["an empty file", new Uint8Array(0), /truncated: 0 bytes/],
    ["a file shorter than the length field", hfBytes.slice(0, 5), /truncated: 5 bytes/],
    ["a header length past the end", lengthPrefix(9), /header length 9 runs past the end of the file \(16 bytes\)/],
    ["a header length over 2^32", lengthPrefix(0, 1), /header length 4294967296 is over the 100 MB limit/],
    ["a PNG renamed", png, /runs past the end|100 MB/],
    ["truncated data", hfBytes.slice(0, hfBytes.length - 1), /ends at byte 280 of the data buffer, which has only 279 bytes: truncated/],
    ["a header cut inside the JSON", craft('{"a":{"dtype":"F32"', 0, true), /not valid JSON/],
    ["invalid UTF-8 in the header", patch(craft('{"ab":1}'), { 10: 0xff }), /not valid UTF-8 \(byte 10\)/],
    ["an overlong UTF-8 form", patch(craft('{"ab":1}'), { 10: 0xc0, 11: 0xa2 }), /not valid UTF-8 \(byte 10\)/],
    ["a UTF-8 surrogate", patch(craft('{"abc":1}'), { 10: 0xed, 11: 0xa0, 12: 0x80 }), /not valid UTF-8 \(byte 10\)/],
    ["a JSON array header", craft("[1, 2]"), /must be a JSON object, got an array/],
    ["a JSON null header", craft("null"), /must be a JSON object, got null/],
    ["a JSON string header", craft('"x"'), /must be a JSON object, got string "x"/],
    ["NUL padding after the JSON", craft("{}\0\0\0\0\0\0", 0, false), /not valid JSON/],
    ["an unknown dtype", craft('{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}', 4), /tensor "a" has an unknown dtype "Q7"/],
    ["a dtype this library does not hold", craft('{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', 4), /dtype F16, which this library does not hold/],
    ["a missing dtype", craft('{"a":{"shape":[1],"data_offsets":[0,4]}}', 4), /tensor "a" has no dtype/],
    ["shape and offsets that disagree", craft(`{"a":${F32("[2,3]", "[0,20]")}}`, 20), /shape \[2,3\] and dtype F32, which need 24 bytes, but its data_offsets \[0,20\] span 20/],
    ["a negative dimension", craft(`{"a":${F32("[-1]", "[0,4]")}}`, 4), /invalid shape \[-1\]/],
    ["a fractional dimension", craft(`{"a":${F32("[1.5]", "[0,4]")}}`, 4), /invalid shape \[1.5\]/],
    ["a shape that is not an array", craft(`{"a":${F32('"2"', "[0,8]")}}`, 8), /invalid shape "2"/],
    ["offsets that are not a pair", craft(`{"a":${F32("[1]", "[4]")}}`, 4), /invalid data_offsets \[4\]/],
    ["offsets that end before they begin", craft(`{"a":${F32("[1]", "[8,4]")}}`, 8), /end before they begin/],
    ["overlapping tensors", craft(`{"a":${F32("[2]", "[0,8]")},"b":${F32("[2]", "[4,12]")}}`, 12), /tensor "b" at \[4,12\] overlaps "a", which ends at 8/],
    ["a gap between tensors", craft(`{"a":${F32("[1]", "[0,4]")},"b":${F32("[1]", "[8,12]")}}`, 12), /bytes 4..8 of the data buffer belong to no tensor/],
    ["data that does not start at 0", craft(`{"a":${F32("[1]", "[4,8]")}}`, 8), /bytes 0..4 of the data buffer belong to no tensor/],
    ["trailing bytes", craft(`{"a":${F32("[1]", "[0,4]")}}`, 9), /5 trailing bytes after the last tensor/],
    ["trailing bytes with no tensors", craft("{}", 3), /3 trailing bytes/],
    ["an unexpected field in a tensor", craft('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}', 4), /unexpected field "extra"/],
    ["a tensor entry that is not an object", craft('{"a":[1,2]}'), /tensor "a" must be an object/],
    ["metadata that is not an object", craft('{"__metadata__":["x"]}'), /"__metadata__" must be an object of strings, got an array/],
    ["a metadata value that is not a string", craft('{"__metadata__":{"step":3}}'), /"__metadata__" entry "step" must be a string, got number 3/],
    ["an offset beyond 2^53", craft(`{"a":${F32("[1]", "[0,18014398509481984]")}}`, 4), /invalid data_offsets/],
    ["a size that cannot be addressed", craft(`{"a":${F32("[4294967296,4294967296]", "[0,4]")}}`, 4), /too large to address/],
  ];

  for (const [what, bytes, message] of cases) {
    it(what, () => {
      const e = decodeError(bytes);
      expect(e.message).toMatch(/^decodeSafetensors: /);
      expect(e.message).toMatch(message);
    });
  }

  it("rejects every truncation of a valid file", () => {
    for (let n = 0; n < hfBytes.length; n++) decodeError(hfBytes.subarray(0, n));
  });

  it("never throws anything but a CheckpointError, whatever a header byte is changed to", () => {
    const n = fixture.header_bytes;
    let accepted = 0;
    let tried = 0;
    for (let i = 0; i < 8 + n; i++) {
      for (const value of [0x00, 0x20, 0x22, 0x2c, 0x30, 0x39, 0x5b, 0x7b, 0x7d, 0xff]) {
        if (hfBytes[i] === value) continue;
        const bytes = hfBytes.slice();
        bytes[i] = value;
        tried++;
        try {
          decodeSafetensors(bytes);
          accepted++;
        } catch (e) {
          if (!(e instanceof CheckpointError)) throw new Error(`byte ${i} = ${value}: ${String(e)}`, { cause: e });
        }
      }
    }
    // Some changes keep the file valid (inside a name or a metadata string); most must not.
    expect(accepted).toBeLessThan(tried / 2);
  });
});
