import { describe, expect, it } from "vitest";
import { checkSignature, decodeModel, encodeModel, readMetadata, readModelInfo, OnnxFormatError, SUPPORTED_OPSETS, type ModelProto } from "./index.js";

function modelWith(metadata: Record<string, string>): Uint8Array {
  const model = {
    ir_version: 8,
    opset_import: [{ domain: "", version: 17 }],
    graph: { name: "g", node: [], initializer: [], input: [], output: [] },
    metadata_props: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  } as unknown as ModelProto;
  return encodeModel(model);
}

describe("reading ONNX files given by users", () => {
  it("a file that is not ONNX is an OnnxFormatError, not a TypeError", () => {
    const e = (() => {
      try {
        decodeModel(new TextEncoder().encode("hello, this is not a model\n"));
      } catch (error) {
        return error as Error;
      }
      throw new Error("expected an error");
    })();
    expect(e).toBeInstanceOf(OnnxFormatError);
    expect(e.message).toMatch(/^decodeModel: not an ONNX model file \(/);
  });

  it("metadata keys from the file are own properties, __proto__ included", () => {
    const meta = readMetadata(modelWith(JSON.parse('{"__proto__": "x", "toString": "y", "unroll.format": "unroll-onnx"}') as Record<string, string>));
    expect(Object.getPrototypeOf(meta)).toBe(Object.prototype);
    expect(Object.hasOwn(meta, "__proto__")).toBe(true);
    expect(meta["toString"]).toBe("y");
    expect(({} as Record<string, unknown>)["x"]).toBeUndefined();
  });

  it("checks the signature's structure, naming the field", () => {
    const base = { tokens: "tokens", tokenType: "int32", logits: "logits", state: [{ input: "h0", output: "h1", shape: [1, "batch", 8] }] };
    expect(checkSignature("t", base)).toEqual(base);
    const bad: [unknown, RegExp][] = [
      [null, /expected an object, got null/],
      [{ ...base, tokens: 1 }, /tokens must be a string, got 1/],
      [{ ...base, tokenType: "float" }, /tokenType must be "int32" or "int64"/],
      [{ ...base, state: {} }, /state must be an array, got an object/],
      [{ ...base, state: [{ input: "h0", output: "h1", shape: [0, "batch"] }] }, /state\[0\]\.shape must be a list of positive integers and "batch"/],
      [{ ...base, state: ["h"] }, /state\[0\] must be an object/],
    ];
    for (const [value, message] of bad) expect(() => checkSignature("t", value)).toThrow(message);
    const file = modelWith({ "unroll.format": "unroll-onnx", "unroll.format_version": "1", "unroll.signature": JSON.stringify({ ...base, state: 3 }) });
    expect(() => readModelInfo(file)).toThrow(/unroll\.signature is not a graph signature: state must be an array/);
    expect(() => readModelInfo(modelWith({ "unroll.format": "unroll-onnx", "unroll.format_version": "1", "unroll.tokenizer": "{" }))).toThrow(OnnxFormatError);
  });

  it("lists the opsets the exporter writes", () => {
    expect(SUPPORTED_OPSETS).toEqual([13, 14, 15, 16, 17, 18, 19, 20, 21]);
  });
});
