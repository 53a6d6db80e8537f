"""PyTorch golden fixtures for the vision primitives of @unroll/tensor (conv2d, max/avg/global pooling,
batch norm, relu6): writes fixtures/torch-vision-golden.json, checked by src/ops/vision-golden.test.ts.
Regenerate with `/usr/bin/python3 -I scripts/generate_vision_fixtures.py` (Debian's python3 with torch 1.13);
the output is deterministic, so rerunning it leaves the JSON unchanged. The inputs, encoding, conditioning
check and JSON layout are generate_fixtures.py's; cases here may also hold constants (running statistics,
integer-valued inputs) that get no gradient."""

import os
import sys
import warnings

import torch
import torch.nn.functional as F

# -I (isolated mode) leaves the script's folder off sys.path: add it to reuse generate_fixtures' helpers.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ beside the scripts
from generate_fixtures import Inputs, check_conditioning, dumps, encode  # noqa: E402

FORMAT = "unroll-torch-vision-golden"
VERSION = 1
OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "torch-vision-golden.json")

torch.set_num_threads(1)
# torch notes that 'same' padding with an even kernel copies the input: true, and harmless here.
warnings.filterwarnings("ignore", message="Using padding='same' with even kernel lengths")


def assert_window_gaps(what, x, kernel, stride, padding, dilation, exact=()):
    """Fails when a max-pooling window's two largest values are closer than 1e-4: float32 and float64 must pick the same.
    Windows whose maximum is one of the `exact` values (relu6's clipped 0 and 6, equal in both precisions) may tie."""
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    N, C, H, W = x.shape
    padded = F.pad(x.to(torch.float64), (pw, pw, ph, ph), value=-1e9)  # padding never wins
    windows = F.unfold(padded.reshape(N * C, 1, H + 2 * ph, W + 2 * pw), kernel, dilation=dilation, stride=stride)  # (NC, k, L)
    top2 = windows.topk(2, dim=1).values
    gaps = top2[:, 0] - top2[:, 1]
    for v in exact:
        gaps = torch.where(top2[:, 0] == v, torch.tensor(float("inf"), dtype=gaps.dtype), gaps)
    gap = gaps.min().item()
    assert gap > 1e-4, f"{what}: a pooling window's two largest values differ by {gap:.3g}; pick another seed"


# ---------------------------------------------------------------------------------------------
# Cases: each returns its inputs, the names among them that are constants (no gradient), and a
# function (inputs -> loss, named outputs) that src/ops/vision-golden.test.ts rebuilds.


def conv_case(name, description, seed, x_shape, w_shape, bias, kwargs):
    inp = Inputs(seed)
    inp.normal("x", x_shape)
    inp.normal("weight", w_shape, 0.5)
    if bias:
        inp.normal("bias", (w_shape[0],), 0.3)

    def fn(t):
        y = F.conv2d(t["x"], t["weight"], t.get("bias"), **kwargs)
        return (y * t["r"]).sum(), {"y": y}

    with torch.no_grad():
        out_shape = F.conv2d(inp.tensors["x"], inp.tensors["weight"], None, **kwargs).shape
    inp.normal("r", out_shape)
    return {"name": name, "description": description, "inputs": inp.tensors, "constants": [], "fn": fn}


def case_conv_stride_padding_dilation():
    return conv_case(
        "conv2d_stride_padding_dilation_bias",
        "conv2d with per-axis stride (2,1), padding (1,2) and dilation (1,2), with bias, odd sizes",
        8001, (2, 3, 9, 8), (4, 3, 3, 3), True, {"stride": (2, 1), "padding": (1, 2), "dilation": (1, 2)},
    )


def case_conv_groups():
    return conv_case(
        "conv2d_groups_2_stride_2",
        "grouped conv2d (groups 2, 4 -> 6 channels), stride 2, padding 1, 3x2 kernel, no bias",
        8002, (2, 4, 7, 7), (6, 2, 3, 2), False, {"stride": 2, "padding": 1, "groups": 2},
    )


def case_conv_depthwise():
    return conv_case(
        "conv2d_depthwise_multiplier_2",
        "depthwise conv2d (groups = C_in = 3, channel multiplier 2), padding 1, with bias",
        8003, (2, 3, 6, 5), (6, 1, 3, 3), True, {"padding": 1, "groups": 3},
    )


def case_conv_same():
    return conv_case(
        "conv2d_same_even_kernel_dilation",
        "conv2d padding='same' with an even 2x4 kernel and dilation (2,1): the extra row/column at the bottom/right",
        8004, (1, 2, 6, 7), (3, 2, 2, 4), True, {"padding": "same", "dilation": (2, 1)},
    )


def case_max_pool():
    inp = Inputs(8101)
    x = inp.normal("x", (2, 3, 9, 10))
    kw = {"kernel_size": 3, "stride": 2, "padding": 1}
    assert_window_gaps("max_pool2d k3 s2 p1", x, 3, 2, 1, 1)
    with torch.no_grad():
        shape = F.max_pool2d(x, **kw).shape
    inp.normal("r", shape)

    def fn(t):
        y, idx = F.max_pool2d(t["x"], return_indices=True, **kw)
        return (y * t["r"]).sum(), {"y": y, "indices": idx}

    return {
        "name": "max_pool2d_k3_s2_p1_indices",
        "description": "max_pool2d kernel 3, stride 2, padding 1, with return_indices (position h*W+w in each plane)",
        "inputs": inp.tensors,
        "constants": [],
        "fn": fn,
    }


def case_max_pool_dilated():
    inp = Inputs(8102)
    x = inp.normal("x", (2, 2, 8, 9))
    kw = {"kernel_size": (2, 3), "stride": (1, 2), "padding": (1, 1), "dilation": (2, 1)}
    assert_window_gaps("max_pool2d dilated", x, (2, 3), (1, 2), (1, 1), (2, 1))
    with torch.no_grad():
        shape = F.max_pool2d(x, **kw).shape
    inp.normal("r", shape)

    def fn(t):
        y = F.max_pool2d(t["x"], **kw)
        return (y * t["r"]).sum(), {"y": y}

    return {
        "name": "max_pool2d_dilated_per_axis",
        "description": "max_pool2d kernel (2,3), stride (1,2), padding (1,1), dilation (2,1)",
        "inputs": inp.tensors,
        "constants": [],
        "fn": fn,
    }


def case_max_pool_ties():
    inp = Inputs(8103)
    # Small integers: many ties inside each window; the first maximum (row-major) takes the gradient.
    inp.put("x", torch.randint(0, 3, (1, 2, 6, 6), generator=inp.gen).to(torch.float64))
    inp.normal("r", (1, 2, 3, 3))
    kw = {"kernel_size": 3, "stride": 2, "padding": 1}

    def fn(t):
        y, idx = F.max_pool2d(t["x"], return_indices=True, **kw)
        return (y * t["r"]).sum(), {"y": y, "indices": idx}

    return {
        "name": "max_pool2d_ties_first_max",
        "description": "max_pool2d over integer-valued input (ties everywhere): indices and gradient go to the first maximum",
        "inputs": inp.tensors,
        "constants": [],
        "fn": fn,
    }


def avg_case(name, description, seed, x_shape, kw):
    inp = Inputs(seed)
    x = inp.normal("x", x_shape)
    with torch.no_grad():
        shape = F.avg_pool2d(x, **kw).shape
    inp.normal("r", shape)

    def fn(t):
        y = F.avg_pool2d(t["x"], **kw)
        return (y * t["r"]).sum(), {"y": y}

    return {"name": name, "description": description, "inputs": inp.tensors, "constants": [], "fn": fn}


def case_avg_pool_include():
    return avg_case(
        "avg_pool2d_k3_s2_p1_count_include_pad",
        "avg_pool2d kernel 3, stride 2, padding 1, count_include_pad=True (PyTorch's default)",
        8201, (2, 3, 9, 8), {"kernel_size": 3, "stride": 2, "padding": 1},
    )


def case_avg_pool_exclude():
    return avg_case(
        "avg_pool2d_per_axis_exclude_pad",
        "avg_pool2d kernel (3,2), stride (2,1), padding (1,1), count_include_pad=False",
        8202, (2, 2, 7, 6), {"kernel_size": (3, 2), "stride": (2, 1), "padding": (1, 1), "count_include_pad": False},
    )


def case_global_avg_pool():
    inp = Inputs(8301)
    inp.normal("x", (3, 4, 5, 7))
    inp.normal("r", (3, 4))

    def fn(t):
        y = F.adaptive_avg_pool2d(t["x"], 1)  # (3, 4, 1, 1)
        flat = y.flatten(1)
        return (flat * t["r"]).sum(), {"y": y, "flat": flat}

    return {
        "name": "global_avg_pool2d",
        "description": "adaptive_avg_pool2d(x, 1) -> [N, C, 1, 1], flattened to [N, C]",
        "inputs": inp.tensors,
        "constants": [],
        "fn": fn,
    }


def bn_case(name, description, seed, shape, training, momentum, eps):
    C = shape[1]
    inp = Inputs(seed)
    inp.normal("x", shape)
    inp.normal("running_mean", (C,), 0.5)
    inp.uniform("running_var", (C,), 0.5, 2.0)
    inp.normal("weight", (C,), 0.5)
    inp.normal("bias", (C,), 0.5)
    inp.normal("r", shape)
    inp.tensors["weight"] += 1.0

    def fn(t):
        rm = t["running_mean"].detach().clone()
        rv = t["running_var"].detach().clone()
        y = F.batch_norm(t["x"], rm, rv, t["weight"], t["bias"], training=training, momentum=momentum, eps=eps)
        outputs = {"y": y}
        if training:
            outputs.update({"running_mean": rm, "running_var": rv})
        return (y * t["r"]).sum(), outputs

    return {
        "name": name,
        "description": description,
        "inputs": inp.tensors,
        "constants": ["running_mean", "running_var"],
        "fn": fn,
    }


def case_bn_training():
    return bn_case(
        "batch_norm_training_nchw",
        "F.batch_norm training=True over [4,3,5,6]: batch mean and biased variance normalise; running averages take the unbiased variance",
        8401, (4, 3, 5, 6), True, 0.1, 1e-5,
    )


def case_bn_training_2d():
    return bn_case(
        "batch_norm_training_nc_momentum",
        "F.batch_norm training=True over [6,5] (no spatial axes), momentum 0.3, eps 1e-3",
        8402, (6, 5), True, 0.3, 1e-3,
    )


def case_bn_inference():
    return bn_case(
        "batch_norm_inference",
        "F.batch_norm training=False over [3,4,3,5]: the running statistics normalise (constants)",
        8403, (3, 4, 3, 5), False, 0.1, 1e-5,
    )


def case_relu6():
    inp = Inputs(8501)
    v = inp.uniform("x", (4, 6), -3.0, 9.0)
    # The kinks themselves, where PyTorch's gradient (hardtanh's) is 0.
    v[0, 0], v[0, 1], v[1, 2], v[2, 3] = 0.0, 6.0, 0.0, 6.0
    inp.normal("r", (4, 6))

    def fn(t):
        y = F.relu6(t["x"])
        return (y * t["r"]).sum(), {"y": y}

    return {
        "name": "relu6_with_kinks",
        "description": "relu6 over [-3, 9) with exact 0 and 6 entries (gradient 0 at both kinks)",
        "inputs": inp.tensors,
        "constants": [],
        "fn": fn,
    }


def cnn_forward(t):
    # x (4,3,12,11) -> conv 3x3 s2 p1 (+bias) (4,8,6,6) -> batch norm (training) -> relu6
    # -> max pool 3 s2 p1 (4,8,3,3) -> depthwise 3x3 p1 -> 1x1 conv to 6 -> avg pool 2 s1 p1 excl. pad (4,6,4,4)
    # -> global average (4,6) -> linear (4,5) -> cross-entropy
    h = F.conv2d(t["x"], t["conv1_w"], t["conv1_b"], stride=2, padding=1)
    rm = t["bn_mean"].detach().clone()
    rv = t["bn_var"].detach().clone()
    h = F.batch_norm(h, rm, rv, t["bn_w"], t["bn_b"], training=True, momentum=0.1, eps=1e-5)
    h = F.relu6(h)
    h = F.max_pool2d(h, 3, 2, 1)
    h = F.conv2d(h, t["dw_w"], t["dw_b"], padding=1, groups=8)
    h = F.conv2d(h, t["pw_w"], None)
    h = F.avg_pool2d(h, 2, 1, 1, count_include_pad=False)
    feats = F.adaptive_avg_pool2d(h, 1).flatten(1)
    logits = feats @ t["fc_w"].T + t["fc_b"]
    loss = F.cross_entropy(logits, t["targets"])
    return loss, {"features": feats, "logits": logits, "running_mean": rm, "running_var": rv}


def case_cnn():
    inp = Inputs(8601)
    inp.normal("x", (4, 3, 12, 11))
    inp.normal("conv1_w", (8, 3, 3, 3), 0.4)
    inp.normal("conv1_b", (8,), 0.1)
    inp.normal("bn_mean", (8,), 0.1)
    inp.uniform("bn_var", (8,), 0.8, 1.2)
    inp.uniform("bn_w", (8,), 0.8, 1.5)
    inp.normal("bn_b", (8,), 0.2)
    inp.normal("dw_w", (8, 1, 3, 3), 0.4)
    inp.normal("dw_b", (8,), 0.1)
    inp.normal("pw_w", (6, 8, 1, 1), 0.4)
    inp.normal("fc_w", (5, 6), 0.5)
    inp.normal("fc_b", (5,), 0.1)
    inp.integers("targets", (4,), 5)
    t = inp.tensors
    with torch.no_grad():
        pre = F.relu6(F.batch_norm(F.conv2d(t["x"], t["conv1_w"], t["conv1_b"], stride=2, padding=1), None, None, t["bn_w"], t["bn_b"], training=True))
    assert_window_gaps("the CNN's max pool", pre, 3, 2, 1, 1, exact=(0.0, 6.0))
    return {
        "name": "small_cnn_training_step",
        "description": "conv(s2,p1)+bias, batch norm (training), relu6, max pool 3/2/1, depthwise conv, 1x1 conv, avg pool (exclude pad), global average, linear, cross-entropy",
        "inputs": inp.tensors,
        "constants": ["bn_mean", "bn_var"],
        "fn": cnn_forward,
    }


CASES = [
    case_conv_stride_padding_dilation,
    case_conv_groups,
    case_conv_depthwise,
    case_conv_same,
    case_max_pool,
    case_max_pool_dilated,
    case_max_pool_ties,
    case_avg_pool_include,
    case_avg_pool_exclude,
    case_global_avg_pool,
    case_bn_training,
    case_bn_training_2d,
    case_bn_inference,
    case_relu6,
    case_cnn,
]


# ---------------------------------------------------------------------------------------------
# Evaluation


def evaluate(case, dtype):
    """Runs the case in `dtype`; returns the loss, the named outputs and the gradient of every float input but the constants."""
    leaves = {}
    for name, t in case["inputs"].items():
        if t.is_floating_point():
            leaf = t.detach().to(dtype, copy=True)
            leaves[name] = leaf if name in case["constants"] else leaf.requires_grad_(True)
        else:
            leaves[name] = t
    loss, outputs = case["fn"](leaves)
    loss.backward()
    grads = {n: t.grad for n, t in leaves.items() if t.is_floating_point() and n not in case["constants"]}
    assert all(g is not None for g in grads.values()), f"{case['name']}: some float input gets no gradient"
    return loss.detach(), {k: v.detach() for k, v in outputs.items()}, grads


def build_case(make):
    case = make()
    loss, outputs, grads = evaluate(case, torch.float32)
    loss64, outputs64, grads64 = evaluate(case, torch.float64)
    check_conditioning(case["name"], "loss", loss, loss64)
    for k in outputs:
        if outputs[k].is_floating_point():
            check_conditioning(case["name"], f"output {k}", outputs[k], outputs64[k])
        else:
            assert torch.equal(outputs[k], outputs64[k]), f"{case['name']}: output {k} differs between float32 and float64"
    for k in grads:
        check_conditioning(case["name"], f"gradient of {k}", grads[k], grads64[k])
    doc = {
        "name": case["name"],
        "description": case["description"],
        "constants": case["constants"],
        "inputs": {k: encode(v) for k, v in case["inputs"].items()},
        "outputs": {"loss": encode(loss), **{k: encode(v) for k, v in outputs.items()}},
        "grads": {k: encode(v) for k, v in grads.items()},
    }
    return doc


def main():
    torch.manual_seed(0)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "generator": f"scripts/generate_vision_fixtures.py, torch {torch.__version__}",
        "cases": [build_case(make) for make in CASES],
    }
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    with open(OUT_PATH, "w") as f:
        f.write(dumps(doc))
    print(f"wrote {len(doc['cases'])} cases to {os.path.relpath(OUT_PATH)} ({os.path.getsize(OUT_PATH)} bytes)")


if __name__ == "__main__":
    main()
