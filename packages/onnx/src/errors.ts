import { TensorError } from "@unroll/tensor";

/** A file that is not what the reader expects: not ONNX, another format, a newer version, missing or malformed fields. */
export class OnnxFormatError extends TensorError {
  constructor(op: string, message: string) {
    super(op, message);
    this.name = "OnnxFormatError";
  }
}
