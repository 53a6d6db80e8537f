// @unroll/vision: images and videos for recurrent networks. Everything public is exported here.

// Images: PNG/JPEG decoding with limits checked on the header, resizing, NCHW tensors.
export { decodeImage, readImage, encodePng, fromImageData, imageFormat, imageSize, DEFAULT_MAX_PIXELS } from "./image/decode.js";
export type { RgbImage, DecodeOptions } from "./image/decode.js";
export { resizeImage, imagesToTensor, videosToTensor, IMAGENET_MEAN, IMAGENET_STD } from "./image/tensor.js";
export type { ToTensorOptions } from "./image/tensor.js";

// Videos: a folder of frames, an animated GIF or APNG (sampled and stacked by videosToTensor).
export { readVideoFrames } from "./video/frames.js";
export { decodeAnimation, readVideo, DEFAULT_MAX_FRAMES } from "./video/animation.js";
export type { AnimationOptions } from "./video/animation.js";

// Data: caption files, and procedural shapes (images and videos) with compositional captions.
export { readCaptions, parseCaptions } from "./data/captions.js";
export type { CaptionEntry } from "./data/captions.js";
export { emojiCaptions, emojiCaptionsFrom, EMOJI_PACKAGE } from "./data/emoji.js";
export type { EmojiCaptions } from "./data/emoji.js";
export { shapesDataset, movingShapesDataset, COLOURS, SHAPES, SIZES, RELATIONS, MOTIONS } from "./data/shapes.js";
export type { ShapesOptions, CaptionedImage, CaptionedVideo } from "./data/shapes.js";

// Encoders: a small residual CNN trained from scratch, and the pretrained MobileNetV2 inside nsfwjs (pooled vector and region grid).
export { ResNetEncoder } from "./encoder/resnet.js";
export type { ResNetConfig, ResNetParams, ConvParams, EncodedImages } from "./encoder/resnet.js";
export type { ImageEncoder } from "./encoder/encoder.js";
export { MobileNetV2Encoder, nsfwjsMobileNetV2, NSFWJS_PACKAGE } from "./encoder/mobilenet.js";
export type { MobileNetV2Params, MobileNetV2Options, LayersModelArtifacts, WeightSpec, ModuleImporter } from "./encoder/mobilenet.js";

// Captioning: Show and Tell, the image injected at every step, Show, Attend and Tell; nlp's decoding.
export { Captioner, CAPTION_DECODERS } from "./caption/model.js";
export type { CaptionDecoderKind, CaptionerConfig, CaptionEncoderConfig, MobileNetEncoderConfig, ResolvedCaptionerConfig, CaptionerParams, CaptionBatch, EncodedCaption, CaptionState } from "./caption/model.js";
export { caption, captionDecoder } from "./caption/decode.js";
export type { Caption, CaptionOptions, CaptionRows } from "./caption/decode.js";
export { captionBatch } from "./caption/batch.js";
export { attentionOverlay, attentionStrip } from "./caption/overlay.js";

// Metrics: the COCO caption evaluation's BLEU-1..4 and CIDEr-D (pycocoevalcap), and its PTB-style tokenisation.
export { cocoBleu, ciderD, cocoTokenize } from "./metrics/index.js";
export type { Bleu4, CocoBleuOptions, CocoBleuScore, CiderDOptions, CiderDScore, CaptionHypotheses, CaptionReferences, CocoTokenizeOption } from "./metrics/index.js";

// Training: caption files to trained captioners with checkpoints that resume exactly, COCO-scored dev evaluations.
export * from "./train/index.js";
