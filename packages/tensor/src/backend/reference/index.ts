import type { Kernels } from "../kernels.js";
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight } from "./conv.js";
import { binary, cast, clamp, unary, where } from "./elementwise.js";
import { gather, oneHot, scatterAdd } from "./indexing.js";
import { broadcastTo, concat, pad, slice, transpose } from "./layout.js";
import { matmul } from "./matmul.js";
import { batchNorm, batchNormBackward, channelMoments } from "./norm.js";
import { avgPool2d, avgPool2dBackward, maxPool2d, maxPool2dBackward } from "./pool.js";
import { argmax, reduce } from "./reduce.js";
import { recurrentBackward, recurrentForward } from "./recurrent.js";
import { attentionDecoderBackward, attentionDecoderForward } from "./attention-decoder.js";
import { logSoftmax, softmax, softmaxCrossEntropy, softmaxCrossEntropyBackward } from "./softmax.js";

/**
 * The reference kernels: plain TypeScript over typed arrays, for every dtype. They are the oracle
 * every faster backend is tested against, and the fallback for whatever a faster backend lacks.
 */
export const referenceKernels: Kernels = Object.freeze({
  name: "reference",
  unary,
  binary,
  clamp,
  where,
  cast,
  matmul,
  reduce,
  argmax,
  broadcastTo,
  transpose,
  concat,
  slice,
  pad,
  gather,
  scatterAdd,
  oneHot,
  softmax,
  logSoftmax,
  softmaxCrossEntropy,
  softmaxCrossEntropyBackward,
  recurrentForward,
  recurrentBackward,
  attentionDecoderForward,
  attentionDecoderBackward,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
  channelMoments,
  batchNorm,
  batchNormBackward,
});
