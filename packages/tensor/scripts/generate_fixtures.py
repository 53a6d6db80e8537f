"""PyTorch golden fixtures for @unroll/tensor: writes fixtures/torch-golden.json (checked by src/golden.test.ts).
Regenerate with `pnpm --filter @unroll/tensor fixtures`, which runs `/usr/bin/python3 scripts/generate_fixtures.py`
(Debian's python3 with torch 1.13); the output is deterministic, so rerunning it must leave the JSON unchanged."""

import json
import os
import re

import torch
import torch.nn.functional as F

FORMAT = "unroll-torch-golden"
VERSION = 1
OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "torch-golden.json")

# Each case is checked in float32 against float64 by this script: a case whose float32 values move by
# more than this is ill-conditioned (or sits on a kink) and would make a poor golden test.
CONDITIONING_TOL = 2e-6

# One thread: the order of float32 reductions, hence every stored bit, does not depend on the machine.
torch.set_num_threads(1)


# ---------------------------------------------------------------------------------------------
# Inputs


class Inputs:
    """Builds a case's named inputs from its own seeded generator, so cases are independent."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)
        self.tensors = {}

    def normal(self, name, shape, scale=1.0):
        return self.put(name, torch.randn(*shape, generator=self.gen, dtype=torch.float64) * scale)

    def uniform(self, name, shape, low, high):
        return self.put(name, low + (high - low) * torch.rand(*shape, generator=self.gen, dtype=torch.float64))

    def away_from_zero(self, name, shape, low, high):
        """Magnitudes in [low, high] with random signs: no element near the kink of relu or abs."""
        mag = low + (high - low) * torch.rand(*shape, generator=self.gen, dtype=torch.float64)
        sign = torch.where(torch.rand(*shape, generator=self.gen) < 0.5, -1.0, 1.0).to(torch.float64)
        return self.put(name, mag * sign)

    def integers(self, name, shape, high):
        return self.put(name, torch.randint(0, high, shape, generator=self.gen, dtype=torch.int64))

    def put(self, name, t):
        # Float inputs are rounded to float32 once; the float64 check starts from the same values.
        self.tensors[name] = t.to(torch.float32) if t.is_floating_point() else t.to(torch.int64)
        return self.tensors[name]


def assert_margin(what, values, kinks, margin):
    """Fails when an argument of a piecewise op lies within `margin` of one of its kinks."""
    for k in kinks:
        gap = (values - k).abs().min().item()
        assert gap > margin, f"{what}: an element lies {gap:.3g} from the kink at {k}; pick another seed"


def assert_no_ties(what, values, dim):
    top2 = values.topk(2, dim=dim).values
    gap = (top2.select(dim, 0) - top2.select(dim, 1)).min().item()
    assert gap > 1e-3, f"{what}: the two largest elements differ by {gap:.3g}; pick another seed"


# ---------------------------------------------------------------------------------------------
# Cases: each builds inputs and a function (inputs -> loss, named outputs) using only operations
# that @unroll/tensor has, written here the way the TypeScript test rebuilds them.


def mlp_forward(t, reduction):
    # x[8,5] -> x W1 + b1 -> tanh -> h W2 + b2 -> logits[8,4]
    h = torch.tanh(t["x"] @ t["W1"] + t["b1"])
    logits = h @ t["W2"] + t["b2"]
    loss = F.cross_entropy(logits, t["targets"], ignore_index=-100, reduction=reduction)
    return loss, {"logits": logits}


def case_mlp_mean():
    inp = Inputs(1001)
    inp.normal("x", (8, 5))
    inp.normal("W1", (5, 7), 0.5)
    inp.normal("b1", (7,), 0.1)
    inp.normal("W2", (7, 4), 0.5)
    inp.normal("b2", (4,), 0.1)
    inp.integers("targets", (8,), 4)
    return {
        "name": "mlp_tanh_cross_entropy_mean",
        "description": "tanh(x W1 + b1) W2 + b2, softmax cross-entropy against int targets, reduction 'mean'",
        "inputs": inp.tensors,
        "fn": lambda t: mlp_forward(t, "mean"),
    }


def case_mlp_sum_ignore():
    inp = Inputs(1002)
    inp.normal("x", (8, 5))
    inp.normal("W1", (5, 7), 0.5)
    inp.normal("b1", (7,), 0.1)
    inp.normal("W2", (7, 4), 0.5)
    inp.normal("b2", (4,), 0.1)
    targets = inp.integers("targets", (8,), 4)
    targets[torch.tensor([1, 4, 5])] = -100
    return {
        "name": "mlp_tanh_cross_entropy_sum_ignore_index",
        "description": "the same MLP, cross-entropy with targets -100 ignored, reduction 'sum'",
        "inputs": inp.tensors,
        "fn": lambda t: mlp_forward(t, "sum"),
    }


def rnn_forward(t):
    # h_t = tanh(x_t W_xh^T + h_{t-1} W_hh^T + b), PyTorch layout W_xh [H, I], W_hh [H, H]
    h = t["h0"]
    hs = []
    for step in range(t["x"].shape[0]):
        h = torch.tanh(t["x"][step] @ t["W_xh"].T + h @ t["W_hh"].T + t["b"])
        hs.append(h)
    hs = torch.stack(hs)  # (T, B, H)
    logits = hs @ t["W_out"].T + t["b_out"]  # (T, B, C)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), t["targets"].reshape(-1))
    return loss, {"hs": hs, "logits": logits}


def case_rnn():
    T, B, I, H, C = 6, 3, 4, 5, 4
    inp = Inputs(2001)
    inp.normal("x", (T, B, I))
    inp.normal("h0", (B, H), 0.5)
    inp.normal("W_xh", (H, I), 0.5)
    inp.normal("W_hh", (H, H), 0.5)
    inp.normal("b", (H,), 0.1)
    inp.normal("W_out", (C, H), 0.5)
    inp.normal("b_out", (C,), 0.1)
    inp.integers("targets", (T, B), C)

    # The hand-written recurrence is PyTorch's own nn.RNN (tanh) with these weights.
    t = inp.tensors
    rnn = torch.nn.RNN(I, H, nonlinearity="tanh")
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(t["W_xh"])
        rnn.weight_hh_l0.copy_(t["W_hh"])
        rnn.bias_ih_l0.copy_(t["b"])
        rnn.bias_hh_l0.zero_()
        ref, _ = rnn(t["x"], t["h0"].unsqueeze(0))
        mine = rnn_forward(t)[1]["hs"]
    assert torch.allclose(ref, mine, atol=1e-6), "manual RNN differs from torch.nn.RNN"

    return {
        "name": "rnn_tanh_6_steps_cross_entropy",
        "description": "6-step tanh RNN (batch 3, hidden 5, PyTorch [H, I] weights), linear readout, mean cross-entropy over all steps",
        "inputs": inp.tensors,
        "fn": rnn_forward,
    }


def embedding_forward(t):
    emb = t["table"][t["indices"]]  # (3, 5, 4)
    loss = (emb * emb).sum()
    return loss, {"embedded": emb}


def case_embedding():
    inp = Inputs(3001)
    inp.normal("table", (10, 4))
    # Repeated indices (2, 7 several times) and unused rows (4, 8): both must be right in the gradient.
    inp.put("indices", torch.tensor([[2, 7, 2, 0, 9], [3, 7, 7, 1, 2], [5, 6, 0, 2, 3]]))
    return {
        "name": "embedding_gather_sum_of_squares",
        "description": "gather rows of a [10,4] table by [3,5] int indices (repeats included), sum of squares",
        "inputs": inp.tensors,
        "fn": embedding_forward,
    }


def matmul_reductions_forward(t):
    # a (2,4,3) used transposed, b (5,4) used transposed and broadcast over the batch
    y1 = t["a"].transpose(-1, -2) @ t["b"].T  # (2,3,5)
    s = torch.softmax(y1, dim=-1)
    ls = torch.log_softmax(y1, dim=1)
    m = torch.amax(y1, dim=2, keepdim=True)  # (2,3,1)
    mu = torch.mean(y1, dim=(0, 2), keepdim=True)  # (1,3,1)
    sm = torch.sum(ls, dim=1, keepdim=True)  # (2,1,5)
    z = s * ls + (y1 - m) * mu + 0.1 * sm  # (2,3,5)
    y2 = z @ t["c"]  # c (1,5,2) broadcast over the batch -> (2,3,2)
    y3 = t["c"].transpose(-1, -2) @ z.transpose(-1, -2)  # (2,2,3)
    out = y2 + y3.permute(0, 2, 1)  # (2,3,2)
    return (out * t["r"]).sum(), {"y1": y1, "z": z, "out": out}


def case_matmul_reductions():
    inp = Inputs(4001)
    inp.normal("a", (2, 4, 3))
    inp.normal("b", (5, 4), 0.7)
    inp.normal("c", (1, 5, 2))
    inp.normal("r", (2, 3, 2))
    y1 = inp.tensors["a"].transpose(-1, -2) @ inp.tensors["b"].T
    assert_no_ties("max over axis 2", y1, 2)
    return {
        "name": "batched_matmul_softmax_reductions",
        "description": "batched matmul with transpose flags and batch broadcasting, softmax, log_softmax, max/mean/sum with keepdims, transpose",
        "inputs": inp.tensors,
        "fn": matmul_reductions_forward,
    }


def elementwise_forward(t):
    u, v = t["u"], t["v"]
    p = torch.sigmoid(u)
    q = torch.relu(v)
    e = torch.exp(0.5 * u)
    lg = torch.log(torch.abs(v) + 0.5)
    sq = torch.sqrt(u * u + 1.0)
    c = torch.clamp(2.0 * u, min=-1.0, max=1.2)
    pw = torch.pow(p + 0.5, t["w"])  # tensor exponent (6,) broadcast over rows
    picked = torch.where(t["mask"].bool(), p * q, lg.sum(dim=0))  # else-branch (6,) broadcast
    out = picked + torch.pow(p, 3.0) * c + pw * e - sq
    return (out * t["r"]).sum(), {"out": out}


def case_elementwise():
    inp = Inputs(5002)
    u = inp.normal("u", (4, 6))
    v = inp.away_from_zero("v", (4, 6), 0.2, 1.5)
    inp.uniform("w", (6,), -2.0, 2.0)
    inp.integers("mask", (4, 6), 2)
    inp.normal("r", (4, 6))
    assert_margin("relu/abs argument", v, [0.0], 0.1)
    assert_margin("clamp argument", 2.0 * u, [-1.0, 1.2], 0.05)
    assert ((2.0 * u) < -1.0).any() and ((2.0 * u) > 1.2).any(), "clamp must cut on both sides"
    return {
        "name": "elementwise_unary_pow_clamp_where",
        "description": "sigmoid, relu, exp, log, abs, sqrt, clamp, pow (scalar and broadcast tensor exponent), where with a mask",
        "inputs": inp.tensors,
        "fn": elementwise_forward,
    }


def layout_forward(t):
    cat = torch.cat([t["x"], t["y"]], dim=1)  # (2,5,4)
    sl = cat[:, 1:4, 0:3]  # slice(cat, [1,0], [4,3], [1,2]) -> (2,3,3)
    tail = cat[:, -2:, :]  # slice(cat, [-2], [5], [1]) -> (2,2,4)
    # pad(sl, [0,1,2], [1,0,1], 0.5): F.pad lists (before, after) pairs from the last axis back
    pd = F.pad(sl, (2, 1, 1, 0, 0, 1), value=0.5)  # (3,4,6)
    tr = pd.permute(2, 0, 1)  # (6,3,4)
    rs = tr.reshape(9, 8)
    both = torch.cat([rs, tail.reshape(2, 8)], dim=0)  # (11,8)
    out = both * torch.sigmoid(both)
    return (out * t["r"]).sum(), {"padded": pd, "out": out}


def case_layout():
    inp = Inputs(6001)
    inp.normal("x", (2, 3, 4))
    inp.normal("y", (2, 2, 4))
    inp.normal("r", (11, 8))
    return {
        "name": "layout_concat_slice_pad_transpose_reshape",
        "description": "concat, slice (with a negative start), pad with a value, transpose, reshape, then x * sigmoid(x)",
        "inputs": inp.tensors,
        "fn": layout_forward,
    }


def attention_forward(t):
    scores = (t["q"] @ t["k"].transpose(-1, -2)) * 0.5  # (2,3,5), 1/sqrt(4)
    scores = torch.where(t["mask"].bool(), scores, torch.tensor(-1e4, dtype=scores.dtype))
    weights = torch.softmax(scores, dim=-1)
    att = weights @ t["v"]  # v (5,6) broadcast over the batch -> (2,3,6)
    mu = att.mean(dim=-1, keepdim=True)
    var = torch.pow(att - mu, 2.0).mean(dim=-1, keepdim=True)
    normed = (att - mu) / torch.sqrt(var + 1e-3)
    return (normed * t["r"]).sum(), {"weights": weights, "normed": normed}


def case_attention():
    inp = Inputs(7001)
    inp.normal("q", (2, 3, 4))
    inp.normal("k", (2, 5, 4))
    inp.normal("v", (5, 6))
    mask = inp.integers("mask", (2, 3, 5), 2)
    mask[..., 0] = 1  # every query attends to at least one key
    inp.normal("r", (2, 3, 6))
    return {
        "name": "masked_attention_layer_norm",
        "description": "q k^T (transB) scaled, where-masked, softmax, matmul with a broadcast v, then a layer norm (mean, pow, sqrt, div)",
        "inputs": inp.tensors,
        "fn": attention_forward,
    }


CASES = [
    case_mlp_mean,
    case_mlp_sum_ignore,
    case_rnn,
    case_embedding,
    case_matmul_reductions,
    case_elementwise,
    case_layout,
    case_attention,
]


# ---------------------------------------------------------------------------------------------
# Evaluation and serialisation


def evaluate(case, dtype):
    """Runs the case in `dtype`; returns the loss, the named outputs and the gradient of every float input."""
    leaves = {}
    for name, t in case["inputs"].items():
        leaves[name] = t.detach().to(dtype, copy=True).requires_grad_(True) if t.is_floating_point() else t
    loss, outputs = case["fn"](leaves)
    loss.backward()
    grads = {name: t.grad for name, t in leaves.items() if t.is_floating_point()}
    assert all(g is not None for g in grads.values()), f"{case['name']}: some float input gets no gradient"
    return loss.detach(), {k: v.detach() for k, v in outputs.items()}, grads


def encode(t):
    if t.is_floating_point():
        assert t.dtype == torch.float32
        return {"shape": list(t.shape), "dtype": "float32", "values": t.reshape(-1).tolist()}
    return {"shape": list(t.shape), "dtype": "int32", "values": t.to(torch.int32).reshape(-1).tolist()}


def check_conditioning(name, what, f32, f64):
    err = ((f32.to(torch.float64) - f64).abs() / (1.0 + f64.abs())).max().item() if f32.numel() else 0.0
    assert err < CONDITIONING_TOL, f"{name}: {what} moves by {err:.3g} between float32 and float64"


def build_case(make):
    case = make()
    loss, outputs, grads = evaluate(case, torch.float32)
    loss64, outputs64, grads64 = evaluate(case, torch.float64)
    check_conditioning(case["name"], "loss", loss, loss64)
    for k in outputs:
        check_conditioning(case["name"], f"output {k}", outputs[k], outputs64[k])
    for k in grads:
        check_conditioning(case["name"], f"gradient of {k}", grads[k], grads64[k])
    return {
        "name": case["name"],
        "description": case["description"],
        "inputs": {k: encode(v) for k, v in case["inputs"].items()},
        "outputs": {"loss": encode(loss), **{k: encode(v) for k, v in outputs.items()}},
        "grads": {k: encode(v) for k, v in grads.items()},
    }


def dumps(doc):
    """Indented JSON with every list of numbers on one line: readable, and small enough to diff."""
    text = json.dumps(doc, indent=1)
    # Only lists that json.dumps broke over lines: text inside strings never holds a raw newline.
    text = re.sub(r"\[\n\s*([-+0-9.eE,\s]*?)\n\s*\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    assert json.loads(text) == doc
    return text + "\n"


def main():
    torch.manual_seed(0)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "generator": f"scripts/generate_fixtures.py, torch {torch.__version__}",
        "cases": [build_case(make) for make in CASES],
    }
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as f:
        f.write(dumps(doc))
    print(f"wrote {len(doc['cases'])} cases to {os.path.relpath(OUT_PATH)} ({os.path.getsize(OUT_PATH)} bytes)")


if __name__ == "__main__":
    main()
