// @unroll/onnx: recorded graphs -> ONNX models (official schema, protobufjs), lowering rules for
// the primitives and the recurrent scan (ONNX RNN/LSTM/GRU or unrolled), the language model's
// step and sequence graphs, and onnxruntime sessions (Node and web) that decoding runs on.
// Everything public is exported here.

// Export: generic, from traced graphs.
export { graphToOnnx, traceToOnnx, DEFAULT_OPSET, SUPPORTED_OPSETS } from "./export/graph-to-onnx.js";
export type { GraphToOnnxOptions } from "./export/graph-to-onnx.js";
export { defaultLowerings } from "./export/primitives.js";
export { OnnxExportError, INT64_MAX } from "./export/builder.js";
export type { Attributes, AttributeValue } from "./export/builder.js";
export type { Dim, Lowering, LoweringContext, LoweringTable, RecurrentLowering } from "./export/lowering.js";

// The ONNX file format: the messages, encoding and decoding with the vendored onnx.proto.
export { encodeModel, decodeModel, DataType, AttributeType, SCHEMA_IR_VERSION } from "./proto/onnx.js";
export type {
  ModelProto, GraphProto, NodeProto, TensorProto, AttributeProto, ValueInfoProto, Dimension,
  OperatorSetIdProto, StringStringEntryProto,
} from "./proto/onnx.js";

// Metadata: format tag and version, model configuration, tokenizer, signature.
export { readMetadata, readModelInfo, checkSignature, METADATA_KEYS, ONNX_FORMAT, ONNX_FORMAT_VERSION, OnnxFormatError } from "./metadata.js";
export type { GraphSignature, StateSignature, ModelInfo } from "./metadata.js";

// Language models (nlp's LanguageModel, by its shape: this package does not import nlp).
export { exportLanguageModel, languageModelToOnnx } from "./lm/language-model.js";
export type { ExportLanguageModelOptions, LanguageModelLike, RecurrentStateLike } from "./lm/language-model.js";

// Inference with onnxruntime (onnxruntime-node or onnxruntime-web, installed by the user).
export { OnnxSession, OnnxRuntimeError, toTensor, hasWebGpu } from "./runtime/session.js";
export { providerFallbacks, loweringFor } from "./runtime/providers.js";
export type { FallbackNode } from "./runtime/providers.js";
export type { OnnxSessionOptions, ExecutionProvider, Feed, OrtModule, OrtTensor, OrtInferenceSession } from "./runtime/session.js";
export { onnxStepFunction } from "./runtime/step.js";
export type { OnnxStepFunction, OnnxState } from "./runtime/step.js";
export { PRODUCER_VERSION } from "./version.js";

// Translation models (nlp's Seq2Seq, by its shape): an encoder graph and a decoder-step graph, and
// a decoder over onnxruntime that nlp's greedy and beam search drive.
export { exportTranslationModel, translationModelToOnnx, TRANSLATION_METADATA_KEY } from "./seq2seq/translation.js";
export type { ExportTranslationOptions, TranslationModelLike, TranslationSignature, AttentionMemoryLike, DecoderStateLike } from "./seq2seq/translation.js";
export { onnxTranslationDecoder } from "./seq2seq/decoder.js";
export type { OnnxTranslationDecoder, OnnxRows } from "./seq2seq/decoder.js";
export { exportCaptioningModel, captioningModelToOnnx, onnxCaptionDecoder, CAPTION_METADATA_KEY } from "./caption/captioning.js";
export type { CaptionModelLike, CaptionSignature, CaptionStateLike, ExportCaptionOptions, OnnxCaptionDecoder } from "./caption/captioning.js";

// Compiled training steps: a step's loss and gradients as one onnxruntime graph, and the Trainer engine on it.
export { compileStep, CompiledStep, CompileError, batchParts, shapeKey } from "./train/compile.js";
export type { CompileOptions, CompileContext, StepLoss, BatchParts } from "./train/compile.js";
export { onnxruntimeEngine } from "./train/engine.js";
export type { OnnxEngineOptions } from "./train/engine.js";
export { trainingLowerings } from "./train/lowerings.js";

// Sequence classifiers and forecasters (nlp's SequenceClassifier / SequenceForecaster, by shape).
export { exportSequenceModel, sequenceModelToOnnx } from "./sequence/sequence-model.js";
export type { SequenceModelLike, ExportSequenceModelOptions } from "./sequence/sequence-model.js";
