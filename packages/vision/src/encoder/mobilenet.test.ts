import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { DataError, Vocabulary } from "@unroll/nlp";
import { loadWasmKernelsSync, noGrad, referenceKernels, Rng, Tensor, treeLeaves, withKernels } from "@unroll/tensor";
import { adam, arraySource, loadCheckpoint, Trainer } from "@unroll/train";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  caption, captionBatch, Captioner, captionInputs, imagesToTensor, type LayersModelArtifacts, loadCaptionModel, MobileNetV2Encoder, type MobileNetV2Params, nsfwjsMobileNetV2, resolveCaptionInput, shapesDataset,
  trainCaptionModel,
} from "../index.js";

// The MobileNetV2 inside nsfwjs (a devDependency here, an optional peer for users) rebuilt on the
// tensor package's conv2d, against TensorFlow.js running the same layers model on the same images.

let artifacts: LayersModelArtifacts;
let encoder: MobileNetV2Encoder;
let work: string;

beforeAll(async () => {
  artifacts = await nsfwjsMobileNetV2();
  encoder = new MobileNetV2Encoder(artifacts);
  work = await mkdtemp(join(tmpdir(), "unroll-mobilenet-"));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Max |a - b| over an NCHW map `[N, C, h, w]` (ours: regions `[N, h·w, C]`) and TF.js's NHWC `[N, h, w, C]`. */
function maxRegionDifference(regions: Tensor, nhwc: Float32Array | Int32Array | Uint8Array): number {
  const [N, P, C] = regions.shape as [number, number, number];
  let worst = 0;
  for (let i = 0; i < N * P * C; i++) worst = Math.max(worst, Math.abs(regions.data[i]! - nhwc[i]!)); // (n, p, c) is NHWC's order too
  return worst;
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

describe("MobileNetV2Encoder: nsfwjs's MobileNetV2 without TensorFlow.js", () => {
  it("reads the Keras layers: 52 convolutions (batch norm folded), 1,280 features, 224×224 inputs", () => {
    expect(encoder.features).toBe(1280);
    expect(encoder.imageSize).toBe(224);
    expect(encoder.outputLayer).toBe("out_relu");
    expect(encoder.fingerprint).toMatch(/^fnv1a32:[0-9a-f]{8}:\d+$/);
    const shapes = encoder.parameterShapes();
    expect(Object.keys(shapes)).toHaveLength(2 * 52);
    expect(shapes["Conv1.weight"]).toEqual([32, 3, 3, 3]);
    expect(shapes["expanded_conv_depthwise.weight"]).toEqual([32, 1, 3, 3]);
    expect(shapes["block_16_project.weight"]).toEqual([320, 960, 1, 1]);
    expect(shapes["Conv_1.weight"]).toEqual([1280, 320, 1, 1]);
    expect(Object.values(shapes).reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0)).toBe(2_206_816);
  });

  it("gives TensorFlow.js's features (cpu backend) on the reference and the WebAssembly kernels", { timeout: 90_000 }, async () => {
    // Two procedural images and one of noise, 224×224, values in [0, 1] as nsfwjs feeds the model.
    const shapes = shapesDataset({ count: 2, side: 64, seed: 5 }).map((d) => d.image);
    const pictures = imagesToTensor(shapes, { size: [224, 224] });
    const noise = new Rng(3).uniform([1, 3, 224, 224], 0, 1);
    const data = new Float32Array(3 * 3 * 224 * 224);
    data.set(pictures.data as Float32Array);
    data.set(noise.data as Float32Array, pictures.size);
    const images = new Tensor(data, [3, 3, 224, 224]);

    await tf.setBackend("cpu");
    const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: artifacts.modelTopology as tf.io.ModelArtifacts["modelTopology"], weightSpecs: artifacts.weightSpecs as tf.io.WeightsManifestEntry[], weightData: artifacts.weightData.slice().buffer }));
    const trunk = tf.model({ inputs: model.inputs, outputs: [model.getLayer("out_relu").output as tf.SymbolicTensor, model.getLayer("flatten_1").output as tf.SymbolicTensor] });
    const [map, pooled] = tf.tidy(() => trunk.predict(tf.transpose(tf.tensor4d(data, [3, 3, 224, 224]), [0, 2, 3, 1])) as tf.Tensor[]) as [tf.Tensor, tf.Tensor];
    expect(map.shape).toEqual([3, 7, 7, 1280]);
    const tfMap = await map.data();
    const tfPooled = await pooled.data();
    tf.dispose([map, pooled]);
    model.dispose();

    const report: string[] = [];
    for (const [name, kernels] of [["reference", referenceKernels], ["wasm", loadWasmKernelsSync({ threads: 1 })]] as const) {
      const out = withKernels(kernels, () => noGrad(() => encoder.forward(encoder.weights, images)));
      expect(out.grid).toEqual([7, 7]);
      expect(out.regions.shape).toEqual([3, 49, 1280]);
      const regions = maxRegionDifference(out.regions, tfMap);
      const vector = maxDifference(out.pooled.data, tfPooled);
      report.push(`${name} kernels: max |Δ| ${regions.toExponential(2)} over the 7×7×1280 maps, ${vector.toExponential(2)} over the pooled vectors`);
      // The maps reach 6 (ReLU6); float32 sums in another order and the folded batch norm differ by ~4e-5.
      expect(regions).toBeLessThan(1e-3);
      expect(vector).toBeLessThan(1e-3);
    }
    // The images differ to the network: features are not a constant.
    expect(maxDifference(tfPooled.subarray(0, 1280), tfPooled.subarray(1280, 2560))).toBeGreaterThan(0.1);
    console.log(`MobileNetV2 (nsfwjs) vs TensorFlow.js ${tf.version.tfjs} cpu, 3 images 224×224:\n  ${report.join("\n  ")}`);
  });

  it("says which package to install when nsfwjs is absent, and passes other failures on", async () => {
    const absent = async (specifier: string): Promise<never> => {
      throw Object.assign(new Error(`Cannot find package 'nsfwjs' imported from /app/node_modules/@unroll/vision/dist/encoder/mobilenet.js (${specifier})`), { code: "ERR_MODULE_NOT_FOUND" });
    };
    const error = await nsfwjsMobileNetV2(absent).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as DataError).code).toBe("NOT_FOUND");
    expect((error as DataError).message).toMatch(/comes from the package nsfwjs .*optional peer dependency of @unroll\/vision.*npm install nsfwjs/);
    await expect(MobileNetV2Encoder.fromNsfwjs({ importModule: absent })).rejects.toThrow(/npm install nsfwjs/);
    await expect(nsfwjsMobileNetV2(async () => ({}))).rejects.toThrow(/does not export MobileNetV2Model/);
    await expect(nsfwjsMobileNetV2(async () => Promise.reject(new SyntaxError("Unexpected token")))).rejects.toThrow(SyntaxError);
  });

  it("refuses layers it cannot import, naming them", () => {
    const topology = structuredClone(artifacts.modelTopology) as { model_config: { config: { layers: { name: string; class_name: string }[] } } };
    topology.model_config.config.layers[5]!.class_name = "SeparableConv2D";
    expect(() => new MobileNetV2Encoder({ ...artifacts, modelTopology: topology })).toThrow(/expanded_conv_depthwise is a SeparableConv2D layer, which the import does not support/);
    expect(() => new MobileNetV2Encoder(artifacts, { output: "nowhere" })).toThrow(/no layer nowhere/);
    const short = new MobileNetV2Encoder(artifacts, { output: "block_3_project_BN" }); // stop early: 32 channels at 1/8
    expect(short.features).toBe(32);
    expect(short.forward(short.weights, new Rng(1).uniform([1, 3, 64, 64], 0, 1)).grid).toEqual([8, 8]);
  });
});

describe("Captioner with the MobileNetV2 encoder", () => {
  const train = shapesDataset({ count: 4, side: 32, seed: 2 });
  const vocabulary = Vocabulary.fit(train.map((d) => d.caption), { minFrequency: 1 });
  const batch = (): ReturnType<typeof captionBatch> => captionBatch(imagesToTensor(train.map((d) => d.image)), train.map((d) => vocabulary.encode(d.caption)));
  const snapshot = (t: Tensor): Float32Array => Float32Array.from(t.data as Float32Array);

  it("needs the imported weights, and checks them against the fingerprint it was trained with", () => {
    expect(() => new Captioner({ vocabSize: vocabulary.size, encoder: { kind: "mobilenet" } })).toThrow(/needs its imported weights.*Captioner\.create/);
    expect(() => new Captioner({ vocabSize: vocabulary.size, encoder: { kind: "mobilenet", weights: "fnv1a32:00000000:1" } }, { encoder })).toThrow(/trained on MobileNetV2 weights fnv1a32:00000000:1/);
    const model = new Captioner({ vocabSize: vocabulary.size, encoder: { kind: "mobilenet" } }, { encoder });
    expect(model.config.encoder).toEqual({ kind: "mobilenet", frozen: true, weights: encoder.fingerprint });
  });

  for (const frozen of [true, false]) {
    it(frozen ? "frozen: the encoder is not among the parameters, and a training step leaves it as it was" : "fine-tuned: a training step changes the encoder's weights", { timeout: 60_000 }, async () => {
      const model = new Captioner({ vocabSize: vocabulary.size, decoder: "attention", encoder: { kind: "mobilenet", frozen }, embeddingSize: 8, hiddenSize: 16 }, { encoder });
      const params = model.init(new Rng(0));
      const tuned = params.encoder as MobileNetV2Params;
      const names = Object.keys(model.parameterShapes());
      expect(names.some((n) => n.startsWith("encoder."))).toBe(!frozen);
      expect(treeLeaves(params.encoder)).toHaveLength(frozen ? 0 : 104);
      const imported = snapshot(encoder.weights["Conv1"]!.weight);
      const importedLast = snapshot(encoder.weights["Conv_1"]!.bias);
      const before = frozen ? imported : snapshot(tuned["Conv1"]!.weight);
      const head = snapshot(params.head.weight);
      await new Trainer({ params, loss: model.lossFunction(), data: arraySource([batch()]), optimizer: adam({ lr: 1e-3 }) }).run({ steps: 1 });
      expect(maxDifference(snapshot(params.head.weight), head)).toBeGreaterThan(0); // the decoder trains either way
      expect(maxDifference(snapshot(encoder.weights["Conv1"]!.weight), imported)).toBe(0); // the imported weights never change
      expect(maxDifference(snapshot(encoder.weights["Conv_1"]!.bias), importedLast)).toBe(0);
      if (!frozen) {
        expect(maxDifference(snapshot(tuned["Conv1"]!.weight), before)).toBeGreaterThan(1e-4); // Adam's first step moves every weight with a gradient by about lr
        expect(maxDifference(snapshot(tuned["Conv_1"]!.bias), importedLast)).toBeGreaterThan(1e-4);
      }
    });
  }

  it("trains, saves without the frozen weights and reloads through trainCaptionModel / loadCaptionModel", { timeout: 60_000 }, async () => {
    const items = shapesDataset({ count: 12, side: 32, seed: 1 });
    const input = resolveCaptionInput({ imageSize: 32 });
    const set = { ids: items.map((_, i) => `shape-${i}.png`), inputs: captionInputs(items.map((d) => d.image), input), captions: items.map((d) => [d.caption]) };
    const dir = join(work, "run");
    const result = await trainCaptionModel({
      train: set,
      dev: set,
      config: { input: { imageSize: 32 }, steps: 2, batchSize: 4, minFrequency: 1, evalEvery: 2, evalImages: 2, model: { embeddingSize: 8, hiddenSize: 16, encoder: { kind: "mobilenet" } } },
      checkpointDir: dir,
    });
    expect(result.model.config.encoder).toEqual({ kind: "mobilenet", frozen: true, weights: encoder.fingerprint });
    const checkpoint = await loadCheckpoint(dir);
    expect(Object.keys(checkpoint.params).some((n) => n.startsWith("encoder."))).toBe(false);
    const loaded = await loadCaptionModel(dir);
    expect(loaded.model.config).toEqual(result.model.config);
    const images = captionInputs(items.slice(0, 2).map((d) => d.image), input);
    const [a, b] = [await caption(result.model, result.params, result.vocabulary, images), await caption(loaded.model, loaded.params, loaded.vocabulary, images)];
    expect(b.map((c) => c.text)).toEqual(a.map((c) => c.text));
    expect(maxDifference(b[0]!.attention![0]!, a[0]!.attention![0]!)).toBe(0);
    // Without an image size, a MobileNetV2 captioner reads 224×224 images, as nsfwjs.
    await expect(trainCaptionModel({ train: set, config: { steps: 1, model: { encoder: { kind: "mobilenet" } } } })).rejects.toThrow(/this model reads \[N, 3, 224, 224\]/);
  });
});
