"""PyTorch reference fixtures for @unroll/train's optimisers and schedules: writes fixtures/torch-optim.json.

Regenerate with `pnpm --filter @unroll/train fixtures`, which runs `/usr/bin/python3 scripts/generate_fixtures.py`
(Debian's python3 with torch 1.13). Everything is seeded and the script runs on one thread, so rerunning it must
leave the JSON byte-for-byte unchanged.

Optimisers ("optimizers"): a fixed smooth problem with four parameters, stored under state_dict-style paths,

    enc.weight (3, 4)   enc.bias (3,)   head.weight (2, 2, 3)   head.scale (4,)
    h = tanh(x @ enc.weight.T + enc.bias)                                  x: (6, 4), fixed
    o = tanh(h @ head.weight.reshape(4, 3).T) * head.scale
    loss = mean((o - y) ** 2)                                              y: (6, 4), fixed

is optimised for STEPS steps (STEPS_FLOAT64 for the float64 cases) by torch.optim.{SGD, Adam, AdamW, RMSprop, Adagrad} with foreach=False (the
single-tensor update formulas the TypeScript port follows operation by operation). Gradients are recomputed by
autograd at every step, so they change with the parameters; since the TypeScript tests must not need torch, each
case stores the initial parameters, and for every step the learning rate set on the param group just before it
(some cases change it from step to step, as a schedule would), the gradients fed and the parameters after it,
plus the optimiser's state buffers after the last step, named "<torch state key>/<param path>". Options are
written with the TypeScript names (weightDecay, lrDecay, initialAccumulatorValue...); `torch_kwargs` below maps
them to torch's.

Schedules ("schedules"): the learning rate in use before each of SCHEDULE_STEPS optimiser steps under
torch.optim.lr_scheduler.StepLR, ExponentialLR, CosineAnnealingLR (no warm-up) and LambdaLR (warm-up then cosine,
with the lambda written out below from the formula @unroll/train documents), and the learning rate after each
ReduceLROnPlateau.step(metric) for fixed metric sequences.

Tensors are {"shape": [...], "data": [row-major values]}. float32 values are written as their shortest decimal
that reads back (decimal -> float64 -> float32, as JavaScript's Float32Array does) to the same float32; the script
asserts that for every value. float64 values are written exactly (Python's repr).

Self-checks: every value finite, every option actually exercised (each step moves the parameters; amsgrad's
running maximum differs from exp_avg_sq somewhere; centered/momentum buffers non-zero), and each float32 case is
replayed in float64 from the same recorded gradients: the two must agree to CONDITIONING_TOL, so that a 1e-6
comparison in the tests measures the port's arithmetic, not an ill-conditioned update.
"""

import json
import math
import os

import numpy as np
import torch

GENERATOR = "packages/train/scripts/generate_fixtures.py"
OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "torch-optim.json")
FORMAT = "unroll-torch-optim"
VERSION = 1
MAX_BYTES = 300 * 1024
STEPS = 8
STEPS_FLOAT64 = 5  # float64 values take twice the characters; fewer steps keep the file small
SCHEDULE_STEPS = 30
# float32 trajectories replayed in float64 from the same gradients must agree to |a - b| <= tol * (1 + |b|).
CONDITIONING_TOL = 2e-5

torch.set_num_threads(1)

PARAM_SHAPES = [("enc.weight", (3, 4)), ("enc.bias", (3,)), ("head.weight", (2, 2, 3)), ("head.scale", (4,))]

# ---------------------------------------------------------------------------------------------
# Case tables (TypeScript option names)

LR_CHANGING = [0.01, 0.02, 0.015, 0.005, 0.03, 0.01, 0.008, 0.02]

OPTIMIZER_CASES = [
    # SGD
    dict(name="sgd_plain", optimizer="sgd", options=dict(lr=0.1)),
    dict(name="sgd_momentum", optimizer="sgd", options=dict(lr=0.05, momentum=0.9)),
    dict(name="sgd_momentum_dampening", optimizer="sgd", options=dict(lr=0.05, momentum=0.8, dampening=0.3)),
    dict(name="sgd_nesterov_weight_decay", optimizer="sgd",
         options=dict(lr=0.05, momentum=0.9, nesterov=True, weightDecay=0.01)),
    dict(name="sgd_maximize_weight_decay_momentum", optimizer="sgd",
         options=dict(lr=0.03, momentum=0.5, weightDecay=0.05, maximize=True)),
    dict(name="sgd_weight_decay_changing_lr", optimizer="sgd", options=dict(lr=0.01, weightDecay=0.1),
         lrs=[lr * 5 for lr in LR_CHANGING]),
    # Adam (L2 weight decay added to the gradient)
    dict(name="adam_default", optimizer="adam", options=dict()),
    dict(name="adam_lr_betas", optimizer="adam", options=dict(lr=0.01, betas=[0.8, 0.99], eps=1e-6)),
    dict(name="adam_weight_decay", optimizer="adam", options=dict(lr=0.01, weightDecay=0.1)),
    dict(name="adam_amsgrad", optimizer="adam", options=dict(lr=0.02, betas=[0.9, 0.8], amsgrad=True)),
    dict(name="adam_maximize_changing_lr", optimizer="adam", options=dict(lr=0.01, weightDecay=0.05, maximize=True),
         lrs=LR_CHANGING),
    # AdamW (decoupled weight decay)
    dict(name="adamw_default", optimizer="adamw", options=dict(lr=0.01)),
    dict(name="adamw_weight_decay_amsgrad", optimizer="adamw",
         options=dict(lr=0.02, betas=[0.85, 0.9], weightDecay=0.3, amsgrad=True)),
    dict(name="adamw_changing_lr", optimizer="adamw", options=dict(lr=0.01, weightDecay=0.5), lrs=LR_CHANGING),
    # RMSprop
    dict(name="rmsprop_default", optimizer="rmsprop", options=dict()),
    dict(name="rmsprop_momentum", optimizer="rmsprop", options=dict(lr=0.005, momentum=0.9, alpha=0.9)),
    dict(name="rmsprop_centered", optimizer="rmsprop", options=dict(lr=0.005, centered=True, alpha=0.95)),
    dict(name="rmsprop_centered_momentum_weight_decay", optimizer="rmsprop",
         options=dict(lr=0.003, alpha=0.9, eps=1e-6, weightDecay=0.1, momentum=0.7, centered=True)),
    dict(name="rmsprop_maximize", optimizer="rmsprop", options=dict(lr=0.002, maximize=True)),
    # Adagrad
    dict(name="adagrad_default", optimizer="adagrad", options=dict()),
    dict(name="adagrad_lr_decay_weight_decay", optimizer="adagrad",
         options=dict(lr=0.05, lrDecay=0.1, weightDecay=0.02)),
    dict(name="adagrad_initial_accumulator_eps", optimizer="adagrad",
         options=dict(lr=0.1, initialAccumulatorValue=0.5, eps=1e-3), lrs=[lr * 10 for lr in LR_CHANGING]),
    dict(name="adagrad_maximize", optimizer="adagrad", options=dict(lr=0.02, maximize=True)),
    # float64 parameters
    dict(name="adamw_amsgrad_float64", optimizer="adamw", dtype="float64",
         options=dict(lr=0.01, betas=[0.9, 0.7], weightDecay=0.1, amsgrad=True)),
    dict(name="rmsprop_centered_momentum_float64", optimizer="rmsprop", dtype="float64",
         options=dict(lr=0.004, momentum=0.5, centered=True)),
    dict(name="sgd_nesterov_float64", optimizer="sgd", dtype="float64",
         options=dict(lr=0.05, momentum=0.9, nesterov=True)),
]

SCHEDULE_CASES = [
    dict(name="step_decay_7", schedule="stepDecay", options=dict(lr=0.1, stepSize=7, gamma=0.5)),
    dict(name="step_decay_3", schedule="stepDecay", options=dict(lr=0.3, stepSize=3, gamma=0.3)),
    dict(name="exponential", schedule="exponential", options=dict(lr=0.05, gamma=0.9)),
    # Without warm-up the schedule is CosineAnnealingLR's curve (up to totalSteps, where torch's turns back up).
    dict(name="cosine_no_warmup_torch_annealing", schedule="cosineWithWarmup",
         options=dict(lr=0.1, warmupSteps=0, totalSteps=SCHEDULE_STEPS, minLr=0.001)),
    dict(name="cosine_warmup_min_lr", schedule="cosineWithWarmup",
         options=dict(lr=0.1, warmupSteps=5, totalSteps=25, minLr=1e-4)),
    dict(name="cosine_warmup_to_zero", schedule="cosineWithWarmup",
         options=dict(lr=0.02, warmupSteps=10, totalSteps=20)),
]

# Metric sequences for ReduceLROnPlateau; each is built to pass through improvements, plateaus longer than
# the patience, cooldowns, improvements smaller than the threshold, and the min_lr floor.
PLATEAU_CASES = [
    dict(name="plateau_defaults", options=dict(lr=0.1),
         metrics=[1.0, 0.9, 0.8, 0.7, 0.65] + [0.65] * 12 + [0.6, 0.5, 0.4] + [0.4, 0.41, 0.39999] * 4),
    dict(name="plateau_min_rel_cooldown_floor",
         options=dict(lr=0.1, factor=0.5, patience=2, threshold=0.01, cooldown=2, minLr=0.02),
         metrics=[1.0, 0.995, 0.991, 0.99, 0.98, 0.97, 0.969, 0.968, 0.9, 0.899, 0.898, 0.897, 0.896, 0.895,
                  0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.49, 0.48, 0.47, 0.46, 0.46, 0.46, 0.46, 0.46, 0.46]),
    dict(name="plateau_max_abs",
         options=dict(lr=0.2, mode="max", thresholdMode="abs", threshold=0.05, patience=1, cooldown=1, factor=0.3),
         metrics=[0.1, 0.2, 0.24, 0.26, 0.3, 0.31, 0.32, 0.33, 0.4, 0.5, 0.52, 0.53, 0.6, 0.6, 0.6, 0.7, 0.71,
                  0.72, 0.73, 0.74, 0.8, 0.9, 0.91, 0.92, 0.93, 0.94, 0.95, 1.0, 1.02, 1.03]),
    dict(name="plateau_min_abs_patience0_floor",
         options=dict(lr=0.01, thresholdMode="abs", threshold=0.1, patience=0, factor=0.1, minLr=1e-4),
         metrics=[5.0, 4.0, 3.95, 3.0, 2.99, 2.98, 2.5, 2.45, 2.44, 2.43, 2.42, 2.41, 1.0, 0.95, 0.94, 0.93]),
    dict(name="plateau_max_rel",
         options=dict(lr=0.05, mode="max", threshold=0.1, patience=3, factor=0.5),
         metrics=[1.0, 1.05, 1.09, 1.1, 1.2, 1.25, 1.3, 1.31, 1.32, 1.5, 1.6, 1.61, 1.62, 1.63, 1.64, 1.65, 1.66,
                  1.67, 2.0, 2.1, 2.2, 2.3, 2.4, 2.5]),
]

SNAKE = dict(weightDecay="weight_decay", lrDecay="lr_decay", initialAccumulatorValue="initial_accumulator_value",
             stepSize="step_size", minLr="min_lr", thresholdMode="threshold_mode")


def torch_kwargs(options):
    out = {SNAKE.get(k, k): v for k, v in options.items()}
    if "betas" in out:
        out["betas"] = tuple(out["betas"])
    return out


def make_optimizer(kind, params, options):
    cls = dict(sgd=torch.optim.SGD, adam=torch.optim.Adam, adamw=torch.optim.AdamW, rmsprop=torch.optim.RMSprop,
               adagrad=torch.optim.Adagrad)[kind]
    return cls(params, foreach=False, **torch_kwargs(options))


# ---------------------------------------------------------------------------------------------
# The problem

def problem(dtype):
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(6, 4, generator=g, dtype=torch.float64)
    y = 0.5 * torch.randn(6, 4, generator=g, dtype=torch.float64)
    params = {path: (0.5 * torch.randn(*shape, generator=g, dtype=torch.float64)) for path, shape in PARAM_SHAPES}
    return x.to(dtype), y.to(dtype), {k: v.to(dtype).requires_grad_(True) for k, v in params.items()}


def loss_fn(params, x, y):
    h = torch.tanh(x @ params["enc.weight"].T + params["enc.bias"])
    o = torch.tanh(h @ params["head.weight"].reshape(4, 3).T) * params["head.scale"]
    return ((o - y) ** 2).mean()


def snapshot(params):
    return {k: v.detach().clone() for k, v in params.items()}


def run_case(case):
    dtype = torch.float64 if case.get("dtype") == "float64" else torch.float32
    x, y, params = problem(dtype)
    opt = make_optimizer(case["optimizer"], list(params.values()), case["options"])
    steps_n = STEPS_FLOAT64 if dtype == torch.float64 else STEPS
    lrs = case.get("lrs") or [opt.param_groups[0]["lr"]] * steps_n
    assert len(lrs) == steps_n
    params0 = snapshot(params)
    steps = []
    for lr in lrs:
        opt.param_groups[0]["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss_fn(params, x, y).backward()
        grads = {k: v.grad.detach().clone() for k, v in params.items()}
        before = snapshot(params)
        opt.step()
        after = snapshot(params)
        for k in params:
            assert not torch.equal(before[k], after[k]), f"{case['name']}: step left {k} unchanged"
        steps.append(dict(grads=grads, params=after))
    buffers = {}
    for path, p in params.items():
        for key, value in opt.state[p].items():
            if key != "step" and torch.is_tensor(value):
                buffers[f"{key}/{path}"] = value.detach().clone()
    check_options_exercised(case, buffers)
    if dtype == torch.float32:
        check_conditioning(case, params0, steps, lrs)
    return dict(lrs=lrs, params0=params0, steps=steps, buffers=buffers, dtype=dtype)


def check_options_exercised(case, buffers):
    o = case["options"]
    if o.get("amsgrad"):
        assert any(not torch.equal(buffers[f"max_exp_avg_sq/{p}"], buffers[f"exp_avg_sq/{p}"])
                   for p, _ in PARAM_SHAPES), f"{case['name']}: amsgrad's maximum never differs from exp_avg_sq"
    for key in ["momentum_buffer", "grad_avg"]:
        for p, _ in PARAM_SHAPES:
            if f"{key}/{p}" in buffers:
                assert buffers[f"{key}/{p}"].abs().max() > 0, f"{case['name']}: {key}/{p} is zero"


def check_conditioning(case, params0, steps, lrs):
    """Replays the float32 case in float64, fed the same recorded gradients."""
    params = {k: v.to(torch.float64).requires_grad_(True) for k, v in params0.items()}
    opt = make_optimizer(case["optimizer"], list(params.values()), case["options"])
    worst = 0.0
    for lr, step in zip(lrs, steps):
        opt.param_groups[0]["lr"] = lr
        for k, p in params.items():
            p.grad = step["grads"][k].to(torch.float64)
        opt.step()
        for k, p in params.items():
            ref = p.detach()
            diff = ((step["params"][k].to(torch.float64) - ref).abs() / (1 + ref.abs())).max().item()
            worst = max(worst, diff)
    assert worst <= CONDITIONING_TOL, f"{case['name']}: float32 and float64 replays differ by {worst:.3g}"


# ---------------------------------------------------------------------------------------------
# Schedules

def scheduler_lrs(case):
    o = case["options"]
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=o["lr"])
    kind = case["schedule"]
    if kind == "stepDecay":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=o["stepSize"], gamma=o["gamma"])
        n = SCHEDULE_STEPS
    elif kind == "exponential":
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=o["gamma"])
        n = SCHEDULE_STEPS
    elif kind == "cosineWithWarmup" and o["warmupSteps"] == 0:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=o["totalSteps"], eta_min=o.get("minLr", 0.0))
        n = o["totalSteps"] + 1  # torch's curve turns back up after T_max; ours stays at minLr
    elif kind == "cosineWithWarmup":
        warmup, total, lr, min_lr = o["warmupSteps"], o["totalSteps"], o["lr"], o.get("minLr", 0.0)

        def factor(step):  # the documented formula, as a multiple of the base lr
            if step < warmup:
                return step / warmup
            progress = min(1.0, (step - warmup) / (total - warmup))
            return (min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))) / lr

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        n = SCHEDULE_STEPS
    else:
        raise ValueError(kind)
    lrs = []
    for _ in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def plateau_lrs(case):
    o = case["options"]
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=o["lr"])
    kwargs = torch_kwargs({k: v for k, v in o.items() if k != "lr"})
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    lrs = []
    for m in case["metrics"]:
        sched.step(m)
        lrs.append(opt.param_groups[0]["lr"])
    assert len(set(lrs)) >= 3, f"{case['name']}: the lr should be reduced at least twice"
    return lrs


# ---------------------------------------------------------------------------------------------
# Output

def f32_number(v):
    s = repr(np.float32(v))
    out = float(s)
    assert np.float32(out) == np.float32(v) and math.isfinite(out), (v, s)
    return out


def tensor_json(t):
    assert torch.isfinite(t).all()
    flat = t.detach().reshape(-1)
    if t.dtype == torch.float32:
        data = [f32_number(v) for v in flat.numpy()]
    else:
        assert t.dtype == torch.float64
        data = [float(v) for v in flat.tolist()]
    return {"shape": list(t.shape), "data": data}


def main():
    optimizers = []
    for case in OPTIMIZER_CASES:
        r = run_case(case)
        optimizers.append({
            "name": case["name"],
            "optimizer": case["optimizer"],
            "options": case["options"],
            "dtype": "float64" if r["dtype"] == torch.float64 else "float32",
            "lrs": r["lrs"],
            "params0": {k: tensor_json(v) for k, v in r["params0"].items()},
            "steps": [{"grads": {k: tensor_json(v) for k, v in s["grads"].items()},
                       "params": {k: tensor_json(v) for k, v in s["params"].items()}} for s in r["steps"]],
            "buffers": {k: tensor_json(v) for k, v in r["buffers"].items()},
        })
    schedules = [dict(name=c["name"], schedule=c["schedule"], options=c["options"], lrs=scheduler_lrs(c))
                 for c in SCHEDULE_CASES]
    schedules += [dict(name=c["name"], schedule="reduceOnPlateau", options=c["options"], metrics=c["metrics"],
                       lrs=plateau_lrs(c)) for c in PLATEAU_CASES]
    out = {
        "format": FORMAT,
        "version": VERSION,
        "generator": GENERATOR,
        "torch": torch.__version__,
        "optimizers": optimizers,
        "schedules": schedules,
    }
    text = json.dumps(out, separators=(",", ":")) + "\n"
    assert len(text.encode()) < MAX_BYTES, f"fixture is {len(text.encode())} bytes"
    reread = json.loads(text)
    assert reread["format"] == FORMAT and len(reread["optimizers"]) == len(OPTIMIZER_CASES)
    with open(OUT_PATH, "w") as f:
        f.write(text)
    print(f"wrote {os.path.normpath(OUT_PATH)}: {len(optimizers)} optimiser cases, {len(schedules)} schedules, "
          f"{len(text.encode())} bytes")


if __name__ == "__main__":
    main()
