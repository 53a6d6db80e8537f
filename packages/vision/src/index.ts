// @unroll/vision: images and videos for recurrent networks. Everything public is exported here.

// Images: PNG/JPEG decoding with limits checked on the header, resizing, NCHW tensors.
export { decodeImage, readImage, encodePng, imageFormat, imageSize, DEFAULT_MAX_PIXELS } from "./image/decode.js";
export type { RgbImage, DecodeOptions } from "./image/decode.js";
export { resizeImage, imagesToTensor, IMAGENET_MEAN, IMAGENET_STD } from "./image/tensor.js";
export type { ToTensorOptions } from "./image/tensor.js";

// Data: caption files, and procedural shapes (images and videos) with compositional captions.
export { readCaptions, parseCaptions } from "./data/captions.js";
export type { CaptionEntry } from "./data/captions.js";
export { shapesDataset, movingShapesDataset, COLOURS, SHAPES, SIZES, RELATIONS, MOTIONS } from "./data/shapes.js";
export type { ShapesOptions, CaptionedImage, CaptionedVideo } from "./data/shapes.js";
