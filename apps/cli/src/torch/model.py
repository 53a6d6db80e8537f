"""A language model exported by `unroll export torch`, as a PyTorch module.

The network is unroll's `LanguageModel` (packages/nlp/src/model/language-model.ts), line for line:

    x = embedding(tokens)            # (T, B, E), or one_hot(tokens) (T, B, V) for "one-hot"
    x = dropout(x)
    out, state = rnn(x, state)       # nn.RNN / nn.LSTM / nn.GRU, time first, dropout between layers
    logits = head(dropout(out))      # (T, B, V); head shares the embedding with tie_weights

The parameters carry the names of unroll's checkpoints (`embedding.weight`, `rnn.weight_ih_l0`,
`head.weight`, `head.bias`), which are PyTorch's own, so `weights.safetensors` loads as a state dict.
It is read here with the standard library and torch alone: the `safetensors` package is not needed.

    import model
    lm, config = model.load("export-dir")            # the module, in eval mode, and config.json
    logits, state = lm(torch.tensor([[3], [5]]))     # tokens (T, B) -> logits (T, B, V)
"""

import json
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

EXPORT_FORMAT = "unroll-torch-export"
EXPORT_VERSION = 1


class LanguageModel(nn.Module):
    """Embedding (or one-hot) -> stacked RNN/LSTM/GRU -> dropout -> linear head over the vocabulary."""

    def __init__(self, vocab_size, cell, hidden_size, num_layers=1, embedding_size=64, dropout=0.0, tie_weights=False):
        super().__init__()
        if cell not in ("rnn_tanh", "rnn_relu", "lstm", "gru"):
            raise ValueError(f"cell must be rnn_tanh, rnn_relu, lstm or gru, got {cell!r}")
        self.vocab_size = vocab_size
        self.cell = cell
        self.one_hot = embedding_size == "one-hot"
        self.tie_weights = tie_weights
        input_size = vocab_size if self.one_hot else embedding_size
        if not self.one_hot:
            self.embedding = nn.Embedding(vocab_size, embedding_size)
        # PyTorch applies the RNN's own dropout to every layer's output but the last, as unroll does.
        rnn = dict(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers, dropout=dropout if num_layers > 1 else 0.0)
        if cell == "lstm":
            self.rnn = nn.LSTM(**rnn)
        elif cell == "gru":
            self.rnn = nn.GRU(**rnn)
        else:
            self.rnn = nn.RNN(**rnn, nonlinearity="relu" if cell == "rnn_relu" else "tanh")
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            if self.one_hot or embedding_size != hidden_size:
                raise ValueError("tie_weights needs an embedding as wide as the hidden state")
            self.head.weight = self.embedding.weight

    @classmethod
    def from_config(cls, c):
        """From unroll's model config (config.json's "model": vocabSize, cell, hiddenSize, ...)."""
        return cls(
            vocab_size=c["vocabSize"],
            cell=c["cell"],
            hidden_size=c["hiddenSize"],
            num_layers=c.get("numLayers", 1),
            embedding_size=c.get("embeddingSize", 64),
            dropout=c.get("dropout", 0.0),
            tie_weights=c.get("tieWeights", False),
        )

    def forward(self, tokens, state=None):
        """tokens: int64 (T, B); state: h (layers, B, H), or (h, c) for an LSTM. Returns (logits (T, B, V), state)."""
        if self.one_hot:
            x = F.one_hot(tokens, self.vocab_size).to(self.head.weight.dtype)  # (T, B, V)
        else:
            x = self.embedding(tokens)  # (T, B, E)
        out, state = self.rnn(self.drop(x), state)  # (T, B, H)
        return self.head(self.drop(out)), state

    def unroll_state_dict(self):
        """The parameters under unroll's names: the state dict, without the tied head.weight."""
        sd = {k: v for k, v in self.state_dict().items()}
        if self.tie_weights:
            del sd["head.weight"]
        return sd

    def load_unroll_state_dict(self, tensors):
        """Loads unroll's weights; every name and shape must match (a tied head reads the embedding)."""
        expected = self.unroll_state_dict()
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        wrong = [f"{k} {list(tensors[k].shape)} (expected {list(v.shape)})" for k, v in expected.items() if k in tensors and tensors[k].shape != v.shape]
        if missing or unexpected or wrong:
            raise ValueError(f"the weights do not fit this model: missing {missing}, unexpected {unexpected}, wrong shapes {wrong}")
        self.load_state_dict(tensors, strict=not self.tie_weights)


def state_from_unroll(cell, tensors, device=None):
    """unroll's carried state ({"h": ..., "c": ...}, each (layers, B, H)) in the form nn.LSTM/GRU/RNN takes."""
    h = tensors["h"].to(device)
    return (h, tensors["c"].to(device)) if cell == "lstm" else h


def state_to_unroll(state):
    """The inverse of `state_from_unroll`."""
    if isinstance(state, tuple):
        return {"h": state[0], "c": state[1]}
    return {"h": state}


# safetensors: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
# shape and [begin, end) byte offsets into the data that follows, then the raw little-endian data.
_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}
_NAMES = {v: k for k, v in _DTYPES.items()}


def read_safetensors(path):
    """The tensors of a safetensors file, {name: tensor}, and its metadata ({} when it has none)."""
    if sys.byteorder != "little":
        raise RuntimeError("safetensors data is little-endian; this reader runs on little-endian machines only")
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: {len(data)} bytes is too short for a safetensors file")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError(f"{path}: the header length {n} runs past the end of the file: truncated, or not safetensors")
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    buffer = bytearray(data[8 + n :])  # writable, so that torch.frombuffer does not warn
    metadata = header.pop("__metadata__", None) or {}
    tensors = {}
    for name, info in header.items():
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name!r} has dtype {info['dtype']!r}, which this reader does not know")
        begin, end = info["data_offsets"]
        shape = list(info["shape"])
        size = torch.tensor([], dtype=dtype).element_size()
        count = 1
        for d in shape:
            count *= d
        if not 0 <= begin <= end <= len(buffer) or end - begin != count * size:
            raise ValueError(f"{path}: tensor {name!r} has offsets [{begin}, {end}] that do not fit its shape {shape} or the file")
        flat = torch.frombuffer(buffer, dtype=dtype, count=count, offset=begin) if count > 0 else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(shape).clone()
    return tensors, metadata


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} as safetensors, whole or not at all (a temporary file renamed into place)."""
    header = {"__metadata__": dict(metadata or {"format": "pt"})}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        t = t.detach().to("cpu").contiguous()
        blob = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() > 0 else b""
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for blob in blobs:
            f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_config(directory):
    """config.json of an export, its format tag and version checked."""
    path = os.path.join(directory, "config.json")
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    if config.get("format") != EXPORT_FORMAT:
        raise ValueError(f"{path}: not written by `unroll export torch` (format {config.get('format')!r}, expected {EXPORT_FORMAT!r})")
    if config.get("version") != EXPORT_VERSION:
        raise ValueError(f"{path}: version {config.get('version')!r}; this model.py reads version {EXPORT_VERSION}")
    return config


def load(directory, device="cpu"):
    """The exported model with its weights, in eval mode (no dropout), and the export's config."""
    config = read_config(directory)
    model = LanguageModel.from_config(config["model"])
    tensors, _ = read_safetensors(os.path.join(directory, "weights.safetensors"))
    model.load_unroll_state_dict(tensors)
    return model.to(device).eval(), config
