"""PyTorch reference for @unroll/nlp's Seq2Seq: writes fixtures/torch-seq2seq.json.

Each case builds the same model in PyTorch 1.13 (nn.Embedding, nn.GRU/nn.LSTM over a packed
variable-length source batch, a bridge to the decoder's first state, a stacked decoder stepped
one target position at a time with Bahdanau, Luong dot/general (with input feeding) or no
attention, and a linear head), under the state-dict names the TypeScript model uses, and stores:
the parameters, the batch, the logits [T, B, V], the attention weights [T, B, S], the
label-smoothed cross-entropy (F.cross_entropy(..., ignore_index=-100, label_smoothing=0.1)) and
its gradient with respect to every parameter.

Regenerate with `pnpm --filter @unroll/nlp fixtures` (runs /usr/bin/python3 -I scripts/seq2seq_fixture.py;
needs Debian's python3-torch). One thread and fixed seeds: rerunning leaves the JSON unchanged.
Float tensors are {"shape": [...], "data": [...]} with float32 values written exactly.
"""

import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

torch.set_num_threads(1)
OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "torch-seq2seq.json")
BOS, EOS = 1, 2
SMOOTHING = 0.1

CASES = [
    {"name": "bahdanau, bidirectional 2-layer GRU encoder, 2-layer GRU decoder", "cell": "gru", "attention": "bahdanau",
     "encoderLayers": 2, "decoderLayers": 2, "bidirectional": True, "seed": 11},
    {"name": "luong-general with input feeding, bidirectional LSTM", "cell": "lstm", "attention": "luong-general",
     "encoderLayers": 1, "decoderLayers": 1, "bidirectional": True, "seed": 12},
    {"name": "luong-dot without input feeding, GRU", "cell": "gru", "attention": "luong-dot", "inputFeeding": False,
     "encoderLayers": 1, "decoderLayers": 1, "bidirectional": False, "decoderHiddenSize": 6, "encoderHiddenSize": 6, "seed": 13},
    {"name": "bottleneck (no attention), bidirectional LSTM", "cell": "lstm", "attention": "none",
     "encoderLayers": 1, "decoderLayers": 2, "bidirectional": True, "seed": 14},
]
SIZES = {"srcVocabSize": 11, "tgtVocabSize": 10, "embeddingSize": 5, "encoderHiddenSize": 4, "decoderHiddenSize": 7, "attentionSize": 6}

# (source ids, target ids): different lengths in one batch, ids >= 3 (0-2 are pad, start, end).
PAIRS = [([3, 4, 5, 6, 7], [9, 8, 7]), ([8, 9], [3, 4, 5, 6]), ([10, 3, 4], [5])]


def rnn_class(cell):
    return nn.LSTM if cell == "lstm" else nn.GRU


class Seq2Seq(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        E, He, Hd = c["embeddingSize"], c["encoderHiddenSize"], c["decoderHiddenSize"]
        D = 2 if c["bidirectional"] else 1
        M = He * D
        self.encoder = nn.Module()
        self.encoder.embedding = nn.Embedding(c["srcVocabSize"], E)
        self.encoder.rnn = rnn_class(c["cell"])(E, He, c["encoderLayers"], bidirectional=c["bidirectional"])
        same = D == 1 and He == Hd and c["encoderLayers"] == c["decoderLayers"]
        self.has_bridge = not same
        if not same:
            self.bridge = nn.Linear(M, c["decoderLayers"] * Hd)
            if c["cell"] == "lstm":
                self.bridgeCell = nn.Linear(M, c["decoderLayers"] * Hd)
        attention = c["attention"]
        feeding = c.get("inputFeeding", True)
        extra = M if attention == "bahdanau" else (Hd if attention != "none" and feeding else 0)
        self.decoder = nn.Module()
        self.decoder.embedding = nn.Embedding(c["tgtVocabSize"], E)
        self.decoder.rnn = rnn_class(c["cell"])(E + extra, Hd, c["decoderLayers"])
        if attention == "bahdanau":
            A = c["attentionSize"]
            self.attention = nn.Module()
            self.attention.query = nn.Linear(Hd, A, bias=False)
            self.attention.key = nn.Linear(M, A, bias=False)
            self.attention.v = nn.Parameter(torch.empty(A).uniform_(-A ** -0.5, A ** -0.5))
        elif attention != "none":
            self.attention = nn.Module()
            if attention == "luong-general":
                self.attention.weight = nn.Parameter(torch.empty(Hd, M).uniform_(-M ** -0.5, M ** -0.5))
            self.attention.combine = nn.Linear(M + Hd, Hd, bias=False)
        self.head = nn.Linear(Hd + M if attention == "bahdanau" else Hd, c["tgtVocabSize"])
        self.feeding = feeding

    def forward(self, src, lengths, tgt_in):
        c = self.c
        S, B = src.shape
        D = 2 if c["bidirectional"] else 1
        L, Ld, Hd = c["encoderLayers"], c["decoderLayers"], c["decoderHiddenSize"]
        lstm = c["cell"] == "lstm"
        packed = pack_padded_sequence(self.encoder.embedding(src), lengths, enforce_sorted=False)
        out, final = self.encoder.rnn(packed)
        out, _ = pad_packed_sequence(out, total_length=S)  # (S, B, M)
        h_n, c_n = final if lstm else (final, None)
        top = lambda s: torch.cat([s[(L - 1) * D + d] for d in range(D)], -1)  # (B, M)
        if self.has_bridge:
            layered = lambda x: x.view(B, Ld, Hd).transpose(0, 1).contiguous()
            h0 = layered(torch.tanh(self.bridge(top(h_n))))
            state = (h0, layered(torch.tanh(self.bridgeCell(top(c_n))))) if lstm else h0
        else:
            state = (h_n, c_n) if lstm else h_n
        memory = out.transpose(0, 1)  # (B, S, M)
        mask = torch.arange(S)[None, :] < lengths[:, None]
        attention = c["attention"]
        if attention == "bahdanau":
            keys = self.attention.key(memory)
        elif attention == "luong-general":
            keys = memory @ self.attention.weight.t()  # (B, S, Hd)
        else:
            keys = memory
        feed = torch.zeros(B, Hd)
        logits, weights = [], []

        def attend(query):
            if attention == "bahdanau":
                scores = torch.tanh(keys + self.attention.query(query)[:, None, :]) @ self.attention.v
            else:
                scores = torch.bmm(keys, query[:, :, None])[:, :, 0]
            alpha = torch.softmax(scores.masked_fill(~mask, float("-inf")), -1)
            return alpha, torch.bmm(alpha[:, None, :], memory)[:, 0]

        for t in range(tgt_in.shape[0]):
            emb = self.decoder.embedding(tgt_in[t])
            if attention == "none":
                o, state = self.decoder.rnn(emb[None], state)
                logits.append(self.head(o[0]))
            elif attention == "bahdanau":
                h_prev = (state[0] if lstm else state)[-1]
                alpha, ctx = attend(h_prev)
                o, state = self.decoder.rnn(torch.cat([emb, ctx], -1)[None], state)
                logits.append(self.head(torch.cat([o[0], ctx], -1)))
                weights.append(alpha)
            else:
                x = torch.cat([emb, feed], -1) if self.feeding else emb
                o, state = self.decoder.rnn(x[None], state)
                alpha, ctx = attend(o[0])
                attentional = torch.tanh(self.attention.combine(torch.cat([ctx, o[0]], -1)))
                feed = attentional
                logits.append(self.head(attentional))
                weights.append(alpha)
        return torch.stack(logits), (torch.stack(weights) if weights else None)


def batch():
    B = len(PAIRS)
    S = max(len(s) for s, _ in PAIRS)
    T = max(len(t) for _, t in PAIRS) + 1
    src = torch.zeros(S, B, dtype=torch.long)
    tgt_in = torch.zeros(T, B, dtype=torch.long)
    tgt_out = torch.full((T, B), -100, dtype=torch.long)
    for b, (s, t) in enumerate(PAIRS):
        src[: len(s), b] = torch.tensor(s)
        tgt_in[0, b] = BOS
        tgt_in[1 : len(t) + 1, b] = torch.tensor(t)
        tgt_out[: len(t), b] = torch.tensor(t)
        tgt_out[len(t), b] = EOS
    lengths = torch.tensor([len(s) for s, _ in PAIRS])
    return src, lengths, tgt_in, tgt_out


def tensor_json(t):
    t = t.detach().to(torch.float32)
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def run(case):
    c = {**SIZES, **case}
    torch.manual_seed(case["seed"])
    model = Seq2Seq(c)
    src, lengths, tgt_in, tgt_out = batch()
    logits, weights = model(src, lengths, tgt_in)
    V = c["tgtVocabSize"]
    loss = F.cross_entropy(logits.reshape(-1, V), tgt_out.reshape(-1), ignore_index=-100, label_smoothing=SMOOTHING)
    loss.backward()
    # Self-check in float64: the float32 result is well conditioned.
    model64 = Seq2Seq(c).double()
    model64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    torch.set_default_dtype(torch.float64)
    logits64, _ = model64(src, lengths, tgt_in)
    torch.set_default_dtype(torch.float32)
    assert (logits64.float() - logits).abs().max().item() < 1e-5, case["name"]
    config = {k: v for k, v in c.items() if k not in ("name", "seed")}
    return {
        "name": case["name"],
        "config": config,
        "state_dict": {k: tensor_json(v) for k, v in model.state_dict().items()},
        "src": src.tolist(),
        "src_lengths": lengths.tolist(),
        "tgt_in": tgt_in.tolist(),
        "tgt_out": tgt_out.tolist(),
        "label_smoothing": SMOOTHING,
        "logits": tensor_json(logits),
        "attention": tensor_json(weights) if weights is not None else None,
        "loss": float(loss.item()),
        "grads": {k: tensor_json(p.grad) for k, p in model.named_parameters()},
    }


def main():
    out = {
        "generator": "packages/nlp/scripts/seq2seq_fixture.py",
        "torch": torch.__version__,
        "cases": [run(case) for case in CASES],
    }
    with open(OUT_PATH, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT_PATH} ({len(out['cases'])} cases)")


if __name__ == "__main__":
    main()
