"""Exports PyTorch's own one-step LSTM language model to ONNX, for the generation benchmark.

The model is the benchmark's (embedding 64 -> 2-layer nn.LSTM, hidden 512 -> linear head over an
84-symbol vocabulary; random weights, seed 0), written by torch.onnx.export with opset 17, dynamic
batch, as a step graph: tokens int64 [batch], h_0/c_0 [2, batch, 512] -> logits [batch, 84],
h_n, c_n. The file (about 13 MB) goes to bench/fixtures/, which git ignores; the benchmark times
onnxruntime on it when it is there and says how to make it when it is not. Dev-time only: needs
Debian's python3-torch (`pnpm --filter @unroll/onnx torch-fixture`); no test reads it.
"""

import os
import sys

import torch
from torch import nn

VOCAB, EMBED, HIDDEN, LAYERS = 84, 64, 512, 2
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "fixtures", "torch-lstm-step.onnx")


class Step(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, EMBED)
        self.rnn = nn.LSTM(EMBED, HIDDEN, LAYERS)
        self.head = nn.Linear(HIDDEN, VOCAB)

    def forward(self, tokens, h_0, c_0):
        x = self.embedding(tokens).unsqueeze(0)  # (1, B, E)
        y, (h_n, c_n) = self.rnn(x, (h_0, c_0))
        return self.head(y.squeeze(0)), h_n, c_n


def main() -> None:
    torch.manual_seed(0)
    model = Step().eval()
    tokens = torch.zeros(1, dtype=torch.int64)
    h_0 = torch.zeros(LAYERS, 1, HIDDEN)
    c_0 = torch.zeros(LAYERS, 1, HIDDEN)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (tokens, h_0, c_0),
            OUT,
            input_names=["tokens", "h_0", "c_0"],
            output_names=["logits", "h_n", "c_n"],
            dynamic_axes={"tokens": {0: "batch"}, "h_0": {1: "batch"}, "c_0": {1: "batch"},
                          "logits": {0: "batch"}, "h_n": {1: "batch"}, "c_n": {1: "batch"}},
            opset_version=17,
            do_constant_folding=True,
        )
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT):,} bytes, torch {torch.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
