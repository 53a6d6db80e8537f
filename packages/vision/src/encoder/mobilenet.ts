import { DataError } from "@unroll/nlp";
import { add, apply, cast, clone, Conv2d, globalAvgPool2d, relu, relu6, reshape, type Rng, ShapeError, Tensor, transpose, ValueRangeError } from "@unroll/tensor";
import type { ImageEncoder } from "./encoder.js";
import type { ConvParams, EncodedImages } from "./resnet.js";

// A pretrained image encoder without TensorFlow.js: the MobileNetV2 that ships inside the npm
// package `nsfwjs` (Keras's MobileNetV2 1.0 at 224×224 from ImageNet, fine-tuned by nsfwjs to
// classify five kinds of image; 2.6 MB of uint8-quantised weights inside the package), read the
// way nsfwjs reads it and rebuilt from its Keras layers JSON on the tensor package's conv2d.

/** The package that ships the model: an optional peer dependency of @unroll/vision. */
export const NSFWJS_PACKAGE = "nsfwjs";
/** nsfwjs's module that holds the model's JSON and weights (no TensorFlow.js import). */
const NSFWJS_MODEL_MODULE = "nsfwjs/models/mobilenet_v2";
const INSTALL = `npm install ${NSFWJS_PACKAGE} (or pnpm add / yarn add)`;

/** A weight's entry in a layers model's weights manifest (TensorFlow.js's `WeightsManifestEntry`). */
export interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  /** uint8/uint16 affine quantisation: `value = q · scale + min` (TensorFlow.js's `decodeWeights`). */
  readonly quantization?: { readonly dtype: string; readonly min?: number; readonly scale?: number };
}

/** A TensorFlow.js layers model in memory: the fields of its `ModelArtifacts` that `tf.io.fromMemory` takes. */
export interface LayersModelArtifacts {
  /** model.json's `modelTopology`: the Keras model (`model_config`: the layers and how they connect). */
  readonly modelTopology: Readonly<Record<string, unknown>>;
  readonly weightSpecs: readonly WeightSpec[];
  /** Every weight's bytes, in `weightSpecs` order. */
  readonly weightData: Uint8Array;
}

/**
 * How nsfwjs's model module is reached: Node's `import()` by default. A bundled page passes
 * `() => import("nsfwjs/models/mobilenet_v2")` (so that the bundler sees it); tests pass one that
 * fails.
 */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

interface NsfwjsModelDefinition {
  readonly numOfWeightBundles: number;
  readonly modelJson: () => Promise<{ readonly default?: unknown }>;
  readonly weightBundles: readonly (() => Promise<{ readonly default?: unknown }>)[];
}

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") return true;
  return error instanceof Error && /cannot find (package|module)|failed to (resolve|load)/i.test(error.message) && error.message.includes(NSFWJS_PACKAGE);
}

/**
 * The MobileNetV2 inside nsfwjs 4 as a layers model in memory, loaded as nsfwjs's `core.js` loads
 * it (`loadModel` and `JSONHandler`) but without TensorFlow.js: `nsfwjs/models/mobilenet_v2`
 * exports `MobileNetV2Model`, whose `modelJson()` imports `dist/models/mobilenet_v2/model.min.js`
 * (a browserified module whose default export is the model.json) and whose `weightBundles[i]()`
 * import `group1-shard{i+1}of{n}.min.js` (default export: the shard's bytes in base64, named by the
 * manifest's `paths`). nsfwjs is an optional peer dependency, imported only here: without it, a
 * `DataError` (`NOT_FOUND`) says how to install it.
 */
export async function nsfwjsMobileNetV2(importModule: ModuleImporter = (specifier) => import(/* @vite-ignore */ specifier)): Promise<LayersModelArtifacts> {
  let module: unknown;
  try {
    module = await importModule(NSFWJS_MODEL_MODULE);
  } catch (error) {
    if (!isModuleNotFound(error)) throw error;
    throw new DataError(
      "NOT_FOUND",
      `the pretrained MobileNetV2 encoder comes from the package ${NSFWJS_PACKAGE} (its weights install with it), an optional peer dependency of @unroll/vision, ` +
        `which is not installed; install it next to @unroll/vision: ${INSTALL}`,
      { cause: error },
    );
  }
  const model = (module as { MobileNetV2Model?: NsfwjsModelDefinition } | null)?.MobileNetV2Model;
  const malformed = (what: string): DataError =>
    new DataError("MALFORMED", `${NSFWJS_MODEL_MODULE}: ${what}; @unroll/vision reads the layout of nsfwjs 4 (${INSTALL.replace(NSFWJS_PACKAGE, `${NSFWJS_PACKAGE}@4`)})`, { path: NSFWJS_MODEL_MODULE });
  if (!model || typeof model.modelJson !== "function" || !Array.isArray(model.weightBundles) || model.weightBundles.length !== model.numOfWeightBundles) {
    throw malformed("it does not export MobileNetV2Model { modelJson, weightBundles, numOfWeightBundles }");
  }
  const json = (await model.modelJson()).default as { modelTopology?: unknown; weightsManifest?: unknown } | undefined;
  if (!json || typeof json.modelTopology !== "object" || json.modelTopology === null || !Array.isArray(json.weightsManifest)) {
    throw malformed("its model.json has no modelTopology or weightsManifest");
  }
  // nsfwjs's getWeightData: bundle i is the shard `group1-shard{i+1}of{n}`, base64.
  const shards = new Map<string, string>();
  for (let i = 0; i < model.numOfWeightBundles; i++) {
    const data = (await model.weightBundles[i]!()).default;
    if (typeof data !== "string") throw malformed(`weight bundle ${i + 1} is not base64 text`);
    shards.set(`group1-shard${i + 1}of${model.numOfWeightBundles}`, data);
  }
  const weightSpecs: WeightSpec[] = [];
  const parts: Uint8Array[] = [];
  for (const group of json.weightsManifest as { paths?: unknown; weights?: unknown }[]) {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) throw malformed("a weights manifest group has no paths or weights");
    for (const path of group.paths as string[]) {
      const base64 = shards.get(path);
      if (base64 === undefined) throw malformed(`the weights manifest names the shard ${JSON.stringify(path)}, which it does not ship`);
      parts.push(decodeBase64(base64));
    }
    weightSpecs.push(...(group.weights as WeightSpec[]));
  }
  const weightData = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    weightData.set(p, offset);
    offset += p.length;
  }
  return { modelTopology: json.modelTopology as Record<string, unknown>, weightSpecs, weightData };
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Standard base64 (padding optional) to bytes, in Node and browsers alike. */
function decodeBase64(text: string): Uint8Array {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) table[BASE64.charCodeAt(i)] = i;
  let end = text.length;
  while (end > 0 && text[end - 1] === "=") end--;
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let bits = 0;
  let count = 0;
  let o = 0;
  for (let i = 0; i < end; i++) {
    const v = table[text.charCodeAt(i)] ?? -1;
    if (v < 0) throw new DataError("MALFORMED", `the weights are not base64 (character ${i}: ${JSON.stringify(text[i])})`);
    bits = (bits << 6) | v;
    count += 6;
    if (count >= 8) {
      count -= 8;
      out[o++] = (bits >> count) & 0xff;
    }
  }
  return out.subarray(0, o);
}

/** FNV-1a (32 bits) of the bytes, with their count: `fnv1a32:<8 hex digits>:<bytes>`. */
function fingerprintOf(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return `fnv1a32:${(h >>> 0).toString(16).padStart(8, "0")}:${bytes.length}`;
}

/** Every weight of the manifest as float32 values, dequantised as TensorFlow.js's `decodeWeights` does. */
function decodeWeights(artifacts: LayersModelArtifacts): Map<string, { shape: readonly number[]; values: Float32Array }> {
  const out = new Map<string, { shape: readonly number[]; values: Float32Array }>();
  const bytes = artifacts.weightData;
  let offset = 0;
  for (const spec of artifacts.weightSpecs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const q = spec.quantization;
    const stored = q?.dtype ?? spec.dtype;
    const width = stored === "uint8" ? 1 : stored === "uint16" ? 2 : stored === "float32" ? 4 : 0;
    if (spec.dtype !== "float32" || width === 0 || (q && (q.dtype === "float32" || q.min === undefined || q.scale === undefined))) {
      throw new DataError("MALFORMED", `weight ${spec.name}: ${spec.dtype}${q ? ` quantised as ${q.dtype}` : ""} is not supported (float32, or float32 quantised to uint8/uint16 with min and scale)`);
    }
    if (offset + size * width > bytes.length) {
      throw new DataError("MALFORMED", `weight ${spec.name} [${spec.shape.join(", ")}] runs past the end of the weights (${bytes.length} bytes)`);
    }
    const values = new Float32Array(size);
    const view = new DataView(bytes.buffer, bytes.byteOffset + offset, size * width);
    if (width === 4) for (let i = 0; i < size; i++) values[i] = view.getFloat32(4 * i, true);
    else {
      const { min, scale } = q as { min: number; scale: number };
      if (width === 1) for (let i = 0; i < size; i++) values[i] = bytes[offset + i]! * scale + min;
      else for (let i = 0; i < size; i++) values[i] = view.getUint16(2 * i, true) * scale + min;
    }
    out.set(spec.name, { shape: spec.shape, values });
    offset += size * width;
  }
  return out;
}

/** Parameters under the Keras layers' names: `Conv1.weight`, `block_1_depthwise.bias`, ... (batch norm folded in). */
export interface MobileNetV2Params {
  readonly [layer: string]: ConvParams;
}

export interface MobileNetV2Options {
  /**
   * The layer whose output is the feature map (pooled for the image vector, read as the region
   * grid). Default: the last layer before the classifier head (the input of the first pooling,
   * Flatten or Dense layer): `out_relu`, 1,280 channels, 7×7 at 224×224.
   */
  readonly output?: string;
}

type Pair = readonly [number, number];
type Pads = readonly [number, number, number, number];

interface ConvNode {
  readonly kind: "conv";
  /** The Keras layer (its weights' and its parameters' name). */
  readonly name: string;
  readonly input: number;
  readonly kernel: Pair;
  readonly stride: Pair;
  readonly dilation: Pair;
  readonly groups: number;
  readonly padding: "same" | "valid";
  /** Zeros of a ZeroPadding2D before it, `[top, left, bottom, right]`. */
  readonly pads: Pads;
}

type Node = { readonly kind: "input" } | ConvNode | { readonly kind: "relu" | "relu6"; readonly input: number } | { readonly kind: "add"; readonly inputs: readonly number[] };

interface KerasLayer {
  readonly name: string;
  readonly class_name: string;
  readonly config: Record<string, unknown>;
  readonly inbound_nodes: readonly (readonly (readonly unknown[])[])[];
}

/** Layers that begin the classifier head: the feature map is what they read. */
const HEAD = new Set(["AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten", "Dense"]);

const pairOf = (v: unknown): Pair => (typeof v === "number" ? [v, v] : [Number((v as number[])[0]), Number((v as number[])[1])]);

/** TensorFlow's "same" padding along one axis: the output is ceil(size / stride), the odd zero at the end (bottom/right). */
function samePadding(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * An image encoder imported from a Keras/TensorFlow.js layers model: by default the MobileNetV2
 * that ships inside the npm package `nsfwjs` (`MobileNetV2Encoder.fromNsfwjs()`), pretrained on
 * ImageNet and fine-tuned by nsfwjs. The layers JSON is rebuilt on the tensor package's primitives:
 * Conv2D and DepthwiseConv2D as `Conv2d` (a depthwise one with `groups = C_in`), TensorFlow's
 * "same" padding resolved per input size (the odd zero at the bottom/right) and ZeroPadding2D
 * merged into the convolution's pads `[top, left, bottom, right]`, BatchNormalization folded into
 * the convolution before it (`w·γ/√(σ²+ε)`, `(b-μ)·γ/√(σ²+ε)+β`: inference statistics, so
 * fine-tuning trains the folded weights and biases), ReLU with `max_value` 6 as `relu6`, Add.
 * TensorFlow's NHWC kernels become PyTorch's layout: `[kH, kW, C_in, C_out]` → `[C_out, C_in, kH,
 * kW]`, depthwise `[kH, kW, C_in, m]` → `[C_in·m, 1, kH, kW]` (output channel `c·m + j`).
 *
 * It reads images `[N, 3, H, W]` with values in [0, 1], as nsfwjs feeds it (pixels / 255, no mean
 * or std), at 224×224 (any size whose grid stays at least 1×1 works: the grid is H/32 × W/32).
 * Returns the feature map averaged over its positions (what the classifier head's 7×7 average
 * pooling gives at 224) and its grid of region features (7×7 of 1,280 at 224). Differentiable:
 * `init` copies the imported weights for fine-tuning; `weights` are the imported ones themselves.
 */
export class MobileNetV2Encoder implements ImageEncoder<MobileNetV2Params> {
  readonly inputChannels = 3;
  readonly features: number;
  /** The image size the model was trained at (from its input layer; 224 for nsfwjs's). */
  readonly imageSize: number | null;
  /** The layer whose output is the feature map. */
  readonly outputLayer: string;
  /**
   * The imported weights' bytes as `fnv1a32:<hex>:<bytes>` (FNV-1a of the weight data): a
   * captioning checkpoint records it, to refuse weights other than the ones it was trained on.
   */
  readonly fingerprint: string;
  /** The imported weights (batch norm folded in); `init` returns copies. Do not change them. */
  readonly weights: MobileNetV2Params;
  private readonly nodes: readonly Node[];
  /** Per node, the last node that reads its output (to drop intermediates as soon as they are read). */
  private readonly lastUse: readonly number[];

  /** The MobileNetV2 inside nsfwjs (the optional peer dependency; see `nsfwjsMobileNetV2`). */
  static async fromNsfwjs(options: MobileNetV2Options & { readonly importModule?: ModuleImporter } = {}): Promise<MobileNetV2Encoder> {
    return new MobileNetV2Encoder(await nsfwjsMobileNetV2(options.importModule), options);
  }

  constructor(artifacts: LayersModelArtifacts, options: MobileNetV2Options = {}) {
    const op = "MobileNetV2Encoder";
    const bad = (message: string): DataError => new DataError("MALFORMED", `${op}: ${message}`);
    const config = (artifacts.modelTopology as { model_config?: { class_name?: string; config?: { layers?: unknown } } }).model_config;
    if (!config || !Array.isArray(config.config?.layers) || !["Model", "Functional"].includes(config.class_name ?? "")) {
      throw bad(`the model topology must be a Keras functional model (model_config.class_name "Model" or "Functional" with config.layers), got ${JSON.stringify(config?.class_name)}`);
    }
    const layers = config.config.layers as KerasLayer[];
    const weights = decodeWeights(artifacts);
    const weight = (name: string): { shape: readonly number[]; values: Float32Array } => {
      const w = weights.get(name);
      if (!w) throw bad(`the weights have no ${name}`);
      return w;
    };
    const inputsOf = (layer: KerasLayer): string[] => {
      if (layer.inbound_nodes.length !== 1) throw bad(`layer ${layer.name} is called ${layer.inbound_nodes.length} times; shared layers are not supported`);
      return layer.inbound_nodes[0]!.map((n) => String(n[0]));
    };
    const consumers = new Map<string, number>();
    for (const layer of layers) for (const from of layer.inbound_nodes.length === 1 ? inputsOf(layer) : []) consumers.set(from, (consumers.get(from) ?? 0) + 1);

    const nodes: Node[] = [];
    const channels: number[] = [];
    const value = new Map<string, number>(); // layer name -> node whose output it is
    const padded = new Map<string, { input: number; pads: Pads }>(); // ZeroPadding2D waiting for its convolution
    const params: Record<string, ConvParams> = {};
    const folded = new Map<string, { node: number; weight: Float32Array; bias: Float64Array; outChannels: number }>(); // a convolution, until its batch norm
    const inputNode = (layer: KerasLayer, from: string): number => {
      const v = value.get(from);
      if (v === undefined) throw bad(`layer ${layer.name} reads ${from}, which is not a supported layer before it${padded.has(from) ? " (a ZeroPadding2D must feed a convolution)" : ""}`);
      return v;
    };
    const push = (node: Node, c: number): number => {
      nodes.push(node);
      channels.push(c);
      return nodes.length - 1;
    };
    let imageSize: number | null = null;
    let output: number | null = null;
    const wanted = options.output;
    for (const layer of layers) {
      const c = layer.config;
      if (c.data_format !== undefined && c.data_format !== "channels_last") throw bad(`layer ${layer.name} is ${String(c.data_format)}; only channels_last models are supported`);
      if (HEAD.has(layer.class_name)) {
        if (wanted === undefined) output = inputNode(layer, inputsOf(layer)[0]!);
        break;
      }
      switch (layer.class_name) {
        case "InputLayer": {
          const shape = c.batch_input_shape as (number | null)[] | undefined;
          if (!shape || shape.length !== 4 || shape[3] !== 3) throw bad(`input ${layer.name} must be [batch, H, W, 3] images, got ${JSON.stringify(shape)}`);
          imageSize = shape[1] === shape[2] && typeof shape[1] === "number" ? shape[1] : null;
          value.set(layer.name, push({ kind: "input" }, 3));
          break;
        }
        case "ZeroPadding2D": {
          const [from] = inputsOf(layer);
          const p = c.padding;
          // An int, [along H, along W] or [[top, bottom], [left, right]] (what Keras writes).
          const [[t, b], [l, r]] = typeof p === "number" ? [[p, p], [p, p]] : [pairOf((p as unknown[])[0]), pairOf((p as unknown[])[1])];
          padded.set(layer.name, { input: inputNode(layer, from!), pads: [t, l, b, r] });
          break;
        }
        case "Conv2D":
        case "DepthwiseConv2D": {
          const [from] = inputsOf(layer);
          const pad = padded.get(from!);
          const input = pad ? pad.input : inputNode(layer, from!);
          const inC = channels[input]!;
          const depthwise = layer.class_name === "DepthwiseConv2D";
          const [kH, kW] = pairOf(c.kernel_size);
          const kernel = weight(`${layer.name}/${depthwise ? "depthwise_kernel" : "kernel"}`);
          const groups = depthwise ? inC : Number(c.groups ?? 1);
          const outC = depthwise ? inC * Number(c.depth_multiplier ?? 1) : Number(c.filters);
          const expected = depthwise ? [kH, kW, inC, outC / inC] : [kH, kW, inC / groups, outC];
          if (kernel.shape.join(",") !== expected.join(",")) throw bad(`${layer.name}'s kernel is [${kernel.shape.join(", ")}], expected [${expected.join(", ")}]`);
          const padding = c.padding === "same" ? "same" : c.padding === "valid" ? "valid" : null;
          if (padding === null) throw bad(`${layer.name} has padding ${JSON.stringify(c.padding)} (same or valid are supported)`);
          const activation = String(c.activation ?? "linear");
          if (!["linear", "relu", "relu6"].includes(activation)) throw bad(`${layer.name} has activation ${activation} (linear, relu or relu6 are supported)`);
          // [kH, kW, C_in/groups, C_out] -> [C_out, C_in/groups, kH, kW]; depthwise [kH, kW, C_in, m] -> [C_in·m, 1, kH, kW].
          const Cg = depthwise ? 1 : inC / groups;
          const w = new Float32Array(outC * Cg * kH * kW);
          const src = kernel.values;
          for (let i = 0; i < kH; i++) {
            for (let j = 0; j < kW; j++) {
              for (let ci = 0; ci < Cg; ci++) {
                for (let o = 0; o < outC; o++) {
                  // Depthwise: output channel o = c·m + j' reads input channel c, kernel entry [i, j, c, j'] = src[((i·kW + j)·C_in + c)·m + j'] = src[(i·kW + j)·C_out + o].
                  w[((o * Cg + ci) * kH + i) * kW + j] = depthwise ? src[(i * kW + j) * outC + o]! : src[((i * kW + j) * Cg + ci) * outC + o]!;
                }
              }
            }
          }
          const bias = new Float64Array(outC);
          if (c.use_bias !== false) {
            const b = weight(`${layer.name}/bias`).values;
            for (let o = 0; o < outC; o++) bias[o] = b[o]!;
          }
          const pads: Pads = pad?.pads ?? [0, 0, 0, 0];
          const node = push({ kind: "conv", name: layer.name, input, kernel: [kH, kW], stride: pairOf(c.strides ?? 1), dilation: pairOf(c.dilation_rate ?? 1), groups, padding, pads }, outC);
          if (params[layer.name] !== undefined) throw bad(`two layers are named ${layer.name}`);
          folded.set(layer.name, { node, weight: w, bias, outChannels: outC });
          params[layer.name] = { weight: new Tensor(w, [outC, Cg, kH, kW]), bias: new Tensor(Float32Array.from(bias), [outC]) };
          let out = node;
          if (activation !== "linear") out = push({ kind: activation as "relu" | "relu6", input: node }, outC);
          value.set(layer.name, out);
          break;
        }
        case "BatchNormalization": {
          const [from] = inputsOf(layer);
          const conv = folded.get(from!);
          const axis = Number(c.axis ?? -1);
          if (!conv || value.get(from!) !== conv.node || consumers.get(from!) !== 1) {
            throw bad(`${layer.name} must follow a convolution that nothing else reads (it is folded into it), but it reads ${from}`);
          }
          if (axis !== -1 && axis !== 3) throw bad(`${layer.name} normalises axis ${axis}; only the channels (-1) are supported`);
          const C = conv.outChannels;
          const eps = Number(c.epsilon ?? 1e-3);
          const gamma = c.scale === false ? null : weight(`${layer.name}/gamma`).values;
          const beta = c.center === false ? null : weight(`${layer.name}/beta`).values;
          const mu = weight(`${layer.name}/moving_mean`).values;
          const variance = weight(`${layer.name}/moving_variance`).values;
          const K = conv.weight.length / C;
          const w = conv.weight;
          for (let o = 0; o < C; o++) {
            const s = (gamma ? gamma[o]! : 1) / Math.sqrt(variance[o]! + eps);
            for (let k = 0; k < K; k++) w[o * K + k] = w[o * K + k]! * s;
            conv.bias[o] = (conv.bias[o]! - mu[o]!) * s + (beta ? beta[o]! : 0);
          }
          const name = (nodes[conv.node] as ConvNode).name;
          const shape = params[name]!.weight.shape;
          params[name] = { weight: new Tensor(w, shape), bias: new Tensor(Float32Array.from(conv.bias), [C]) };
          folded.delete(from!);
          value.set(layer.name, conv.node);
          break;
        }
        case "ReLU":
        case "Activation": {
          const [from] = inputsOf(layer);
          const input = inputNode(layer, from!);
          let kind: "relu" | "relu6";
          if (layer.class_name === "Activation") {
            if (c.activation !== "relu" && c.activation !== "relu6") throw bad(`${layer.name} is a ${String(c.activation)} activation layer (relu or relu6 are supported)`);
            kind = c.activation;
          } else {
            if (Number(c.negative_slope ?? 0) !== 0 || Number(c.threshold ?? 0) !== 0 || ![null, undefined, 6].includes(c.max_value as number | null | undefined)) {
              throw bad(`${layer.name} is a ReLU with max_value ${String(c.max_value)}, negative_slope ${String(c.negative_slope)}, threshold ${String(c.threshold)} (plain or max_value 6 are supported)`);
            }
            kind = c.max_value === 6 ? "relu6" : "relu";
          }
          value.set(layer.name, push({ kind, input }, channels[input]!));
          break;
        }
        case "Add": {
          const inputs = inputsOf(layer).map((from) => inputNode(layer, from));
          if (new Set(inputs.map((i) => channels[i])).size !== 1) throw bad(`${layer.name} adds maps of different channels`);
          value.set(layer.name, push({ kind: "add", inputs }, channels[inputs[0]!]!));
          break;
        }
        default:
          throw bad(`layer ${layer.name} is a ${layer.class_name} layer, which the import does not support (InputLayer, ZeroPadding2D, Conv2D, DepthwiseConv2D, BatchNormalization, ReLU, Add)`);
      }
      if (layer.name === wanted) {
        output = value.get(layer.name) ?? null;
        if (output === null) throw bad(`the output layer ${wanted} produces no feature map of its own`);
        break;
      }
    }
    if (output === null) throw bad(wanted === undefined ? "the model has no classifier head to stop before: name the feature layer with `output`" : `the model has no layer ${wanted} before its head`);
    if (nodes[0]?.kind !== "input") throw bad("the model's first layer must be its input");
    this.nodes = nodes.slice(0, output + 1);
    const last = this.nodes.map((_, i) => i);
    this.nodes.forEach((node, i) => {
      for (const from of node.kind === "conv" || node.kind === "relu" || node.kind === "relu6" ? [node.input] : node.kind === "add" ? node.inputs : []) last[from] = i;
    });
    this.lastUse = last;
    const used = new Set(this.nodes.filter((n): n is ConvNode => n.kind === "conv").map((n) => n.name));
    this.weights = Object.fromEntries(Object.entries(params).filter(([name]) => used.has(name)));
    this.features = channels[output]!;
    this.imageSize = imageSize;
    this.fingerprint = fingerprintOf(artifacts.weightData);
    this.outputLayer = [...value.entries()].filter(([, v]) => v === output).at(-1)![0];
    if (!Number.isInteger(this.features) || this.features < 1) throw new ValueRangeError(op, `the feature map has ${this.features} channels`);
  }

  parameterShapes(): Record<string, number[]> {
    const shapes: Record<string, number[]> = {};
    for (const [name, p] of Object.entries(this.weights)) {
      shapes[`${name}.weight`] = [...p.weight.shape];
      shapes[`${name}.bias`] = [...p.bias.shape];
    }
    return shapes;
  }

  /** Copies of the imported weights (fine-tuning changes the copies; the rng is not used). */
  init(_rng?: Rng): MobileNetV2Params {
    return Object.fromEntries(Object.entries(this.weights).map(([name, p]) => [name, { weight: clone(p.weight), bias: clone(p.bias) }]));
  }

  /** Images `[N, 3, H, W]` in [0, 1] to the pooled vector `[N, C]` and the region grid `[N, h·w, C]`. */
  forward(params: MobileNetV2Params, images: Tensor): EncodedImages {
    if (images.rank !== 4 || images.shape[1] !== this.inputChannels) {
      throw new ShapeError("MobileNetV2Encoder", `images must be [N, 3, H, W], got [${images.shape.join(", ")}]`);
    }
    const values: (Tensor | null)[] = [];
    const read = (i: number, at: number): Tensor => {
      const t = values[i]!;
      if (this.lastUse[i] === at) values[i] = null; // the last reader: let it go
      return t;
    };
    this.nodes.forEach((node, at) => {
      switch (node.kind) {
        case "input":
          values.push(images);
          break;
        case "conv": {
          const x = read(node.input, at);
          const p = params[node.name];
          if (!p) throw new ValueRangeError("MobileNetV2Encoder", `the parameters have no ${node.name}`);
          const [H, W] = [x.shape[2]! + node.pads[0] + node.pads[2], x.shape[3]! + node.pads[1] + node.pads[3]];
          const [t, b] = node.padding === "same" ? samePadding(H, node.kernel[0], node.stride[0], node.dilation[0]) : [0, 0];
          const [l, r] = node.padding === "same" ? samePadding(W, node.kernel[1], node.stride[1], node.dilation[1]) : [0, 0];
          const pads: Pads = [node.pads[0] + t, node.pads[1] + l, node.pads[2] + b, node.pads[3] + r];
          const weight = p.weight.dtype === x.dtype ? p.weight : cast(p.weight, x.dtype);
          const bias = p.bias.dtype === x.dtype ? p.bias : cast(p.bias, x.dtype);
          values.push(apply(Conv2d, [x, weight, bias], { stride: node.stride, pads, dilation: node.dilation, groups: node.groups })[0]);
          break;
        }
        case "relu":
        case "relu6": {
          const x = read(node.input, at);
          values.push(node.kind === "relu6" ? relu6(x) : relu(x));
          break;
        }
        case "add": {
          const xs = node.inputs.map((i) => read(i, at));
          values.push(xs.slice(1).reduce((sum, x) => add(sum, x), xs[0]!));
          break;
        }
      }
    });
    const x = values.at(-1)!;
    const [N, C, h, w] = x.shape as [number, number, number, number];
    const pooled = globalAvgPool2d(x, { keepdims: false }); // (N, C)
    const regions = transpose(reshape(x, [N, C, h * w]), [0, 2, 1]); // (N, h·w, C)
    return { pooled, regions, grid: [h, w] };
  }
}
