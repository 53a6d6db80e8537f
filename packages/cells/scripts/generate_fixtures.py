"""PyTorch reference fixtures for @unroll/cells: writes fixtures/torch-recurrent.json.

What it holds: float32 forward outputs and autograd gradients of torch.nn.RNN (tanh and relu), nn.LSTM and
nn.GRU layers (stacked, bidirectional, batch-first, bias-free, variable-length via pack_padded_sequence with
enforce_sorted=False) under "cases", and of the single-step nn.RNNCell (tanh), nn.LSTMCell and nn.GRUCell under
"cells". Every parameter is stored under PyTorch's own state_dict name; every gradient is that of

    loss = (output * r_output).sum() + (h_n * r_h).sum() [+ (c_n * r_c).sum()]           (layers)
    loss = (h_next * r_h).sum() [+ (c_next * r_c).sum()]                                 (cells)

with r_* fixed random tensors stored alongside. Float tensors are {"shape": [...], "data": [row-major values]},
the float32 values written exactly (as the float64 numbers they convert to); int tensors (lengths) are plain lists.

Regenerate with `pnpm --filter @unroll/cells fixtures`, which runs `/usr/bin/python3 scripts/generate_fixtures.py`
(Debian's python3 with torch 1.13). Each case seeds torch.manual_seed itself and the script runs on one thread, so
the output is deterministic: rerunning it must leave the JSON byte-for-byte unchanged.

Besides writing the file the script checks itself: each case is recomputed in float64 (by torch and by a plain
step-by-step recurrence written here, which pins down the semantics the TypeScript port must follow), relu
pre-activations are kept away from the kink, and the written JSON is reloaded and its shapes, finiteness and
zero padding asserted.
"""

import json
import math
import os
import re

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

GENERATOR = "packages/cells/scripts/generate_fixtures.py"
OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "torch-recurrent.json")

# float32 results must agree with float64 ones to within this (|a - b| / (1 + |b|)); a case that moves more
# is ill-conditioned and would make a poor reference.
CONDITIONING_TOL = 2e-5
# The hand-written float64 recurrence must match torch's float64 result to within this.
MANUAL_TOL = 1e-10
# rnn_relu: every pre-activation must lie at least this far from 0, so float32 rounding (in any summation
# order) cannot flip a unit between the two branches of relu.
RELU_MARGIN = 1e-3
MAX_BYTES = 600 * 1024

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}

# One thread: the order of float32 reductions, hence every stored bit, does not depend on the machine.
torch.set_num_threads(1)


# ---------------------------------------------------------------------------------------------
# Case table

# Seeds are fixed by hand; the rnn_relu ones were picked so that no pre-activation lies within RELU_MARGIN of 0.
SEEDS_BIDIRECTIONAL = {"rnn_tanh": 100, "rnn_relu": 131, "lstm": 102, "gru": 103}
SEEDS_PACKED = {"rnn_tanh": 200, "rnn_relu": 221, "lstm": 202, "gru": 203}

LAYER_CASES = []
for mode in ["rnn_tanh", "rnn_relu", "lstm", "gru"]:
    LAYER_CASES.append(dict(name=f"{mode}_2layer_bidirectional", mode=mode, seed=SEEDS_BIDIRECTIONAL[mode], T=5,
                            B=3, input_size=4, hidden_size=6, num_layers=2, bidirectional=True, batch_first=False,
                            bias=True, given_state=True, lengths=None))
for mode in ["rnn_tanh", "rnn_relu", "lstm", "gru"]:
    LAYER_CASES.append(dict(name=f"{mode}_2layer_bidirectional_packed", mode=mode, seed=SEEDS_PACKED[mode], T=5,
                            B=3, input_size=4, hidden_size=6, num_layers=2, bidirectional=True, batch_first=False,
                            bias=True, given_state=True, lengths=[5, 2, 4]))
LAYER_CASES += [
    dict(name="lstm_1layer_batch_first_no_bias_zero_state", mode="lstm", seed=300, T=5, B=3, input_size=4,
         hidden_size=6, num_layers=1, bidirectional=False, batch_first=True, bias=False, given_state=False,
         lengths=None),
    dict(name="gru_3layer_batch_first_packed", mode="gru", seed=301, T=5, B=3, input_size=4, hidden_size=6,
         num_layers=3, bidirectional=False, batch_first=True, bias=True, given_state=True, lengths=[1, 5, 3]),
    dict(name="rnn_relu_1layer_long_zero_state", mode="rnn_relu", seed=302, T=12, B=3, input_size=4,
         hidden_size=8, num_layers=1, bidirectional=False, batch_first=False, bias=True, given_state=False,
         lengths=None),
]

CELL_CASES = [
    dict(name="rnn_tanh_cell", mode="rnn_tanh", seed=400, B=3, input_size=4, hidden_size=6),
    dict(name="lstm_cell", mode="lstm", seed=401, B=3, input_size=4, hidden_size=6),
    dict(name="gru_cell", mode="gru", seed=402, B=3, input_size=4, hidden_size=6),
]


# ---------------------------------------------------------------------------------------------
# Building and running the torch modules


def make_layer(c):
    kw = dict(num_layers=c["num_layers"], bias=c["bias"], batch_first=c["batch_first"],
              bidirectional=c["bidirectional"])
    if c["mode"] == "lstm":
        return nn.LSTM(c["input_size"], c["hidden_size"], **kw)
    if c["mode"] == "gru":
        return nn.GRU(c["input_size"], c["hidden_size"], **kw)
    return nn.RNN(c["input_size"], c["hidden_size"], nonlinearity=c["mode"][4:], **kw)


def layer_inputs(c):
    """Seeds the case, builds the module (default PyTorch init) and the inputs, all float32."""
    torch.manual_seed(c["seed"])
    module = make_layer(c)
    D = 2 if c["bidirectional"] else 1
    T, B, H = c["T"], c["B"], c["hidden_size"]
    lstm = c["mode"] == "lstm"
    x = torch.randn(B, T, c["input_size"]) if c["batch_first"] else torch.randn(T, B, c["input_size"])
    h0 = torch.randn(c["num_layers"] * D, B, H) if c["given_state"] else None
    c0 = torch.randn(c["num_layers"] * D, B, H) if c["given_state"] and lstm else None
    r_output = torch.randn(*x.shape[:2], D * H)
    r_h = torch.randn(c["num_layers"] * D, B, H)
    r_c = torch.randn(c["num_layers"] * D, B, H) if lstm else None
    return module, dict(x=x, h0=h0, c0=c0, r_output=r_output, r_h=r_h, r_c=r_c)


def run_layer(c, module, t, dtype):
    """Forward and backward in `dtype`; returns (outputs, grads) as detached tensors."""
    module = make_layer(c).to(dtype) if module is None else module
    module.load_state_dict({k: v.to(dtype) for k, v in STATE[c["name"]].items()})
    leaves = {k: t[k].to(dtype).clone().requires_grad_(True) for k in ("x", "h0", "c0") if t[k] is not None}
    r = {k: (t[k].to(dtype) if t[k] is not None else None) for k in ("r_output", "r_h", "r_c")}
    lstm = c["mode"] == "lstm"

    if lstm:
        state = (leaves["h0"], leaves["c0"]) if "h0" in leaves else None
    else:
        state = leaves.get("h0")
    inp = leaves["x"]
    if c["lengths"] is not None:
        inp = pack_padded_sequence(inp, torch.tensor(c["lengths"], dtype=torch.int64),
                                   batch_first=c["batch_first"], enforce_sorted=False)
    out, hid = module(inp, state)
    if c["lengths"] is not None:
        out, out_lengths = pad_packed_sequence(out, batch_first=c["batch_first"], total_length=c["T"])
        assert out_lengths.tolist() == c["lengths"], "pad_packed_sequence gave lengths in another order"
    h_n, c_n = hid if lstm else (hid, None)

    loss = (out * r["r_output"]).sum() + (h_n * r["r_h"]).sum()
    if lstm:
        loss = loss + (c_n * r["r_c"]).sum()
    params = dict(module.named_parameters())
    names = list(params) + list(leaves)
    grads = torch.autograd.grad(loss, [params[n] for n in params] + [leaves[n] for n in leaves])
    outputs = dict(output=out.detach(), h_n=h_n.detach(), c_n=c_n.detach() if lstm else None)
    return outputs, {n: g.detach() for n, g in zip(names, grads)}


STATE = {}


# ---------------------------------------------------------------------------------------------
# An independent float64 recurrence: one example, one direction, one step at a time


def cell_step(mode, x, h, cst, w_ih, w_hh, b_ih, b_hh, preacts):
    """PyTorch's equations. Gate rows: LSTM (i, f, g, o); GRU (r, z, n)."""
    gi = w_ih @ x + (b_ih if b_ih is not None else 0.0)
    gh = w_hh @ h + (b_hh if b_hh is not None else 0.0)
    if mode == "rnn_tanh":
        return torch.tanh(gi + gh), None
    if mode == "rnn_relu":
        preacts.append(gi + gh)
        return torch.relu(gi + gh), None
    if mode == "lstm":
        i, f, g, o = (gi + gh).chunk(4)
        c_next = torch.sigmoid(f) * cst + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_next), c_next
    ir, iz, inn = gi.chunk(3)
    hr, hz, hn = gh.chunk(3)
    rg = torch.sigmoid(ir + hr)
    z = torch.sigmoid(iz + hz)
    n = torch.tanh(inn + rg * hn)  # b_hn sits inside r * (...)
    return (1 - z) * n + z * h, None


def manual_layer(c, sd, t):
    """Time-major float64 recurrence. Padded steps are skipped: the forward direction runs t = 0..len-1, the
    reverse direction t = len-1..0 (it starts at the last *valid* step), and both h_n entries hold the state
    after the last step each direction actually took."""
    mode, L, H = c["mode"], c["num_layers"], c["hidden_size"]
    D = 2 if c["bidirectional"] else 1
    x = t["x"].double()
    if c["batch_first"]:
        x = x.transpose(0, 1)
    T, B = x.shape[:2]
    lengths = c["lengths"] or [T] * B
    zeros = torch.zeros(L * D, B, H, dtype=torch.float64)
    h0 = t["h0"].double() if t["h0"] is not None else zeros
    c0 = t["c0"].double() if t["c0"] is not None else zeros
    h_n, c_n = zeros.clone(), zeros.clone()
    preacts = []
    layer_in = x
    for layer in range(L):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w = [sd.get(p + sfx) for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            w = [v.double() if v is not None else None for v in w]
            out = torch.zeros(T, B, H, dtype=torch.float64)
            for b in range(B):
                h, cs = h0[layer * D + d, b], c0[layer * D + d, b]
                steps = range(lengths[b]) if d == 0 else reversed(range(lengths[b]))
                for s in steps:
                    h, cs = cell_step(mode, layer_in[s, b], h, cs, *w, preacts)
                    out[s, b] = h
                h_n[layer * D + d, b] = h
                if mode == "lstm":
                    c_n[layer * D + d, b] = cs
            outs.append(out)
        layer_in = torch.cat(outs, dim=-1)
    output = layer_in.transpose(0, 1) if c["batch_first"] else layer_in
    return dict(output=output, h_n=h_n, c_n=c_n if mode == "lstm" else None), preacts


# ---------------------------------------------------------------------------------------------
# Cells


def make_cell(c):
    cls = {"rnn_tanh": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}[c["mode"]]
    return cls(c["input_size"], c["hidden_size"])


def cell_inputs(c):
    torch.manual_seed(c["seed"])
    module = make_cell(c)
    B, H = c["B"], c["hidden_size"]
    lstm = c["mode"] == "lstm"
    t = dict(x=torch.randn(B, c["input_size"]), h=torch.randn(B, H), c=torch.randn(B, H) if lstm else None)
    t["r_h"] = torch.randn(B, H)
    t["r_c"] = torch.randn(B, H) if lstm else None
    return module, t


def run_cell(c, sd, t, dtype):
    module = make_cell(c).to(dtype)
    module.load_state_dict({k: v.to(dtype) for k, v in sd.items()})
    lstm = c["mode"] == "lstm"
    leaves = {k: t[k].to(dtype).clone().requires_grad_(True) for k in ("x", "h", "c") if t[k] is not None}
    if lstm:
        h_next, c_next = module(leaves["x"], (leaves["h"], leaves["c"]))
    else:
        h_next, c_next = module(leaves["x"], leaves["h"]), None
    loss = (h_next * t["r_h"].to(dtype)).sum()
    if lstm:
        loss = loss + (c_next * t["r_c"].to(dtype)).sum()
    params = dict(module.named_parameters())
    grads = torch.autograd.grad(loss, list(params.values()) + list(leaves.values()))
    outputs = dict(h_next=h_next.detach(), c_next=c_next.detach() if lstm else None)
    return outputs, {n: g.detach() for n, g in zip(list(params) + list(leaves), grads)}


def manual_cell(c, sd, t):
    w = [sd[p].double() for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    hs, cs = [], []
    for b in range(c["B"]):
        h, cn = cell_step(c["mode"], t["x"][b].double(), t["h"][b].double(),
                          t["c"][b].double() if t["c"] is not None else None, *w, [])
        hs.append(h)
        cs.append(cn)
    return dict(h_next=torch.stack(hs), c_next=torch.stack(cs) if c["mode"] == "lstm" else None)


# ---------------------------------------------------------------------------------------------
# Checks and encoding


def rel_err(a, b):
    return ((a.double() - b.double()).abs() / (1.0 + b.double().abs())).max().item() if a.numel() else 0.0


def check_close(name, what, a, b, tol):
    err = rel_err(a, b)
    assert err < tol, f"{name}: {what} differs by {err:.3g} (tolerance {tol:g})"
    return err


def encode(t):
    if t is None:
        return None
    assert t.dtype == torch.float32
    return {"shape": list(t.shape), "data": t.reshape(-1).tolist()}


def build_layer_case(c):
    module, t = layer_inputs(c)
    sd = {k: v.detach().clone() for k, v in module.state_dict().items()}
    STATE[c["name"]] = sd
    out32, g32 = run_layer(c, module, t, torch.float32)
    out64, g64 = run_layer(c, None, t, torch.float64)
    manual, preacts = manual_layer(c, sd, t)

    worst = 0.0
    for k, v in out32.items():
        if v is None:
            continue
        check_close(c["name"], f"manual float64 {k} vs torch float64", manual[k], out64[k], MANUAL_TOL)
        worst = max(worst, check_close(c["name"], f"{k} float32 vs float64", v, out64[k], CONDITIONING_TOL))
    for k, v in g32.items():
        worst = max(worst, check_close(c["name"], f"grad {k} float32 vs float64", v, g64[k], CONDITIONING_TOL))
    if c["mode"] == "rnn_relu":
        margin = torch.cat(preacts).abs().min().item()
        assert margin > RELU_MARGIN, f"{c['name']}: a relu pre-activation is {margin:.3g} from 0; pick another seed"
        print(f"  {c['name']}: smallest |relu pre-activation| {margin:.3g}")
    print(f"  {c['name']}: float32 vs float64 worst {worst:.2g}")

    expected_params = [k for k, _ in module.named_parameters()]
    assert list(sd) == expected_params
    return {
        "name": c["name"],
        "mode": c["mode"],
        "input_size": c["input_size"],
        "hidden_size": c["hidden_size"],
        "num_layers": c["num_layers"],
        "bidirectional": c["bidirectional"],
        "batch_first": c["batch_first"],
        "bias": c["bias"],
        "state_dict": {k: encode(v) for k, v in sd.items()},
        "x": encode(t["x"]),
        "h0": encode(t["h0"]),
        "c0": encode(t["c0"]),
        "lengths": c["lengths"],
        "output": encode(out32["output"]),
        "h_n": encode(out32["h_n"]),
        "c_n": encode(out32["c_n"]),
        "r_output": encode(t["r_output"]),
        "r_h": encode(t["r_h"]),
        "r_c": encode(t["r_c"]),
        "grads": {k: encode(v) for k, v in g32.items()},
    }


def build_cell_case(c):
    module, t = cell_inputs(c)
    sd = {k: v.detach().clone() for k, v in module.state_dict().items()}
    out32, g32 = run_cell(c, sd, t, torch.float32)
    out64, g64 = run_cell(c, sd, t, torch.float64)
    manual = manual_cell(c, sd, t)
    worst = 0.0
    for k, v in out32.items():
        if v is None:
            continue
        check_close(c["name"], f"manual float64 {k} vs torch float64", manual[k], out64[k], MANUAL_TOL)
        worst = max(worst, check_close(c["name"], f"{k} float32 vs float64", v, out64[k], CONDITIONING_TOL))
    for k, v in g32.items():
        worst = max(worst, check_close(c["name"], f"grad {k} float32 vs float64", v, g64[k], CONDITIONING_TOL))
    print(f"  {c['name']}: float32 vs float64 worst {worst:.2g}")
    return {
        "name": c["name"],
        "mode": c["mode"],
        "input_size": c["input_size"],
        "hidden_size": c["hidden_size"],
        "bias": True,
        "state_dict": {k: encode(v) for k, v in sd.items()},
        "x": encode(t["x"]),
        "h": encode(t["h"]),
        "c": encode(t["c"]),
        "h_next": encode(out32["h_next"]),
        "c_next": encode(out32["c_next"]),
        "r_h": encode(t["r_h"]),
        "r_c": encode(t["r_c"]),
        "grads": {k: encode(v) for k, v in g32.items()},
    }


def dumps(doc):
    """Indented JSON with every list of numbers on one line: readable, and small enough to diff."""
    text = json.dumps(doc, indent=1)
    # Only lists that json.dumps broke over lines: text inside strings never holds a raw newline.
    text = re.sub(r"\[\n\s*([-+0-9.eE,\s]*?)\n\s*\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", text)
    assert json.loads(text) == doc
    return text + "\n"


# ---------------------------------------------------------------------------------------------
# Self-check of the written file


def check_tensor(where, enc, shape=None):
    assert isinstance(enc, dict) and set(enc) == {"shape", "data"}, where
    assert len(enc["data"]) == math.prod(enc["shape"]), f"{where}: data length does not match shape"
    assert all(isinstance(v, float) and math.isfinite(v) for v in enc["data"]), f"{where}: non-finite value"
    if shape is not None:
        assert enc["shape"] == list(shape), f"{where}: shape {enc['shape']} != {list(shape)}"


def as_tensor(enc):
    return torch.tensor(enc["data"], dtype=torch.float64).reshape(enc["shape"])


def self_check(path):
    with open(path) as f:
        doc = json.load(f)
    assert set(doc) == {"generator", "torch", "cases", "cells"}
    assert doc["torch"] == torch.__version__
    assert [c["name"] for c in doc["cases"]] == [c["name"] for c in LAYER_CASES]
    assert [c["name"] for c in doc["cells"]] == [c["name"] for c in CELL_CASES]
    for spec, case in zip(LAYER_CASES, doc["cases"]):
        n, mode, L, H, I = case["name"], case["mode"], case["num_layers"], case["hidden_size"], case["input_size"]
        D = 2 if case["bidirectional"] else 1
        G = GATES[mode]
        T, B = spec["T"], spec["B"]
        lstm = mode == "lstm"
        names = []
        for layer in range(L):
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                in_l = I if layer == 0 else D * H
                shapes = {"weight_ih": (G * H, in_l), "weight_hh": (G * H, H)}
                if case["bias"]:
                    shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
                for p, s in shapes.items():
                    check_tensor(f"{n}.state_dict.{p}{sfx}", case["state_dict"][p + sfx], s)
                    check_tensor(f"{n}.grads.{p}{sfx}", case["grads"][p + sfx], s)
                    names.append(p + sfx)
        assert list(case["state_dict"]) == names, f"{n}: state_dict keys"
        x_shape = (B, T, I) if case["batch_first"] else (T, B, I)
        out_shape = x_shape[:2] + (D * H,)
        st_shape = (L * D, B, H)
        check_tensor(f"{n}.x", case["x"], x_shape)
        check_tensor(f"{n}.output", case["output"], out_shape)
        check_tensor(f"{n}.r_output", case["r_output"], out_shape)
        for k in ("h_n", "r_h") + (("c_n", "r_c") if lstm else ()):
            check_tensor(f"{n}.{k}", case[k], st_shape)
        if not lstm:
            assert case["c0"] is None and case["c_n"] is None and case["r_c"] is None, n
        state_keys = ("h0", "c0") if lstm else ("h0",)
        for k in state_keys:
            if spec["given_state"]:
                check_tensor(f"{n}.{k}", case[k], st_shape)
                check_tensor(f"{n}.grads.{k}", case["grads"][k], st_shape)
            else:
                assert case[k] is None and k not in case["grads"], f"{n}: {k} should be null"
        check_tensor(f"{n}.grads.x", case["grads"]["x"], x_shape)
        expect_grads = names + ["x"] + ([k for k in state_keys] if spec["given_state"] else [])
        assert list(case["grads"]) == expect_grads, f"{n}: grads keys {list(case['grads'])}"
        assert case["lengths"] == spec["lengths"]
        if case["lengths"] is not None:
            out, gx = as_tensor(case["output"]), as_tensor(case["grads"]["x"])
            x = as_tensor(case["x"])
            if not case["batch_first"]:
                out, gx, x = out.transpose(0, 1), gx.transpose(0, 1), x.transpose(0, 1)
            for b, length in enumerate(case["lengths"]):
                assert (out[b, length:] == 0).all(), f"{n}: output not zero past length"
                assert (gx[b, length:] == 0).all(), f"{n}: grad x not zero past length"
                assert (x[b, length:] != 0).all(), f"{n}: padded x should hold (ignored) nonzero values"
                assert (out[b, :length] != 0).any(dim=-1).all(), f"{n}: a valid step has all-zero output"
    for spec, cell in zip(CELL_CASES, doc["cells"]):
        n, H, I, B = cell["name"], cell["hidden_size"], cell["input_size"], spec["B"]
        G = GATES[cell["mode"]]
        lstm = cell["mode"] == "lstm"
        shapes = dict(weight_ih=(G * H, I), weight_hh=(G * H, H), bias_ih=(G * H,), bias_hh=(G * H,))
        assert list(cell["state_dict"]) == list(shapes), n
        for p, s in shapes.items():
            check_tensor(f"{n}.state_dict.{p}", cell["state_dict"][p], s)
            check_tensor(f"{n}.grads.{p}", cell["grads"][p], s)
        check_tensor(f"{n}.x", cell["x"], (B, I))
        check_tensor(f"{n}.grads.x", cell["grads"]["x"], (B, I))
        for k in ("h", "h_next", "r_h") + (("c", "c_next", "r_c") if lstm else ()):
            check_tensor(f"{n}.{k}", cell[k], (B, H))
        for k in ("h", "c") if lstm else ("h",):
            check_tensor(f"{n}.grads.{k}", cell["grads"][k], (B, H))
        if not lstm:
            assert cell["c"] is None and cell["c_next"] is None and cell["r_c"] is None and "c" not in cell["grads"]
        assert list(cell["grads"]) == list(shapes) + (["x", "h", "c"] if lstm else ["x", "h"]), n
    size = os.path.getsize(path)
    assert size < MAX_BYTES, f"fixture is {size} bytes, over {MAX_BYTES}"
    return size


def main():
    print("layer cases:")
    cases = [build_layer_case(c) for c in LAYER_CASES]
    print("cell cases:")
    cells = [build_cell_case(c) for c in CELL_CASES]
    doc = {"generator": GENERATOR, "torch": torch.__version__, "cases": cases, "cells": cells}
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as f:
        f.write(dumps(doc))
    size = self_check(OUT_PATH)
    print(f"wrote {len(cases)} layer cases and {len(cells)} cell cases to {os.path.relpath(OUT_PATH)} ({size} bytes)")


if __name__ == "__main__":
    main()
