"""The benchmark's workloads in PyTorch (nn.Embedding, nn.LSTM, nn.LSTMCell, nn.Linear, nn.Conv2d,
F.cross_entropy, torch.optim.Adam, clip_grad_norm_): the same models as
src/engines/unroll-models.ts and src/engines/tfjs-models.ts.

Run by the runner (src/run.ts) with Debian's Python:
    OMP_NUM_THREADS=N OPENBLAS_NUM_THREADS=N /usr/bin/python3 torch/workloads.py --job job.json --out result.json
The job's variant is the thread count, with "-passive" when OMP_WAIT_POLICY=PASSIVE is set. Writes the same JSON as the Node engines (src/protocol.ts).
"""

import argparse
import ctypes
import json
import math
import os
import platform
import re
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPEAT_TARGET_S = 0.05
MAX_REPEATS = 10_000
SAMPLE_LENGTH = 100
MIN_WALL_FOR_LOAD_S = 0.5  # /proc/stat counts in 10 ms ticks


def blas_info():
    """Which BLAS library this process really loaded (torch reports BLAS_INFO=generic, which says
    only that it calls the system's libblas.so.3: Debian's alternatives decide whether that is
    OpenBLAS or the slow reference BLAS)."""
    a = torch.randn(64, 64)
    (a @ a).sum().item()  # make sure the BLAS is loaded and used
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if re.search(r"(blas|lapack)", os.path.basename(path)):
                libs.add(os.path.realpath(path))
    info = {"libraries": sorted(libs)}
    config = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    info["torch BLAS_INFO"] = config.group(1) if config else "?"
    openblas = [p for p in libs if "openblas" in p]
    if openblas:
        lib = ctypes.CDLL(openblas[0])
        try:
            lib.openblas_get_config.restype = ctypes.c_char_p
            info["openblas config"] = lib.openblas_get_config().decode()
            lib.openblas_get_corename.restype = ctypes.c_char_p
            info["openblas core"] = lib.openblas_get_corename().decode()
        except AttributeError:
            pass
        try:
            info["openblas threads"] = str(lib.openblas_get_num_threads())
        except AttributeError:
            pass
        blas_lib = next((p for p in libs if os.path.basename(p).startswith("libblas")), "")
        info["verdict"] = "OpenBLAS" if ("openblas" in blas_lib or not blas_lib) else f"libblas.so.3 is {blas_lib}, not OpenBLAS"
    else:
        info["verdict"] = "reference BLAS (no OpenBLAS loaded): expect about 10x slower matrix products; install libopenblas0-pthread"
    return info


def machine_busy_seconds():
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return (v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None


def own_cpu_seconds():
    t = os.times()
    return t.user + t.system


M32 = np.uint64(0xFFFFFFFF)


class DataRng:
    """src/data.ts's DataRng (mulberry32), vectorised: the n-th number depends only on seed + n * C,
    so a block of numbers is computed at once. Gives the same weights and tokens as the Node engines."""

    def __init__(self, seed):
        self.seed = np.uint64(seed & 0xFFFFFFFF)
        self.count = 0

    def next(self, n):
        def imul(a, b):
            return (a * b) & M32

        k = np.arange(self.count + 1, self.count + n + 1, dtype=np.uint64)
        self.count += n
        t = (self.seed + k * np.uint64(0x6D2B79F5)) & M32
        t = imul(t ^ (t >> np.uint64(15)), t | np.uint64(1))
        t = t ^ ((t + imul(t ^ (t >> np.uint64(7)), t | np.uint64(61))) & M32)
        return ((t ^ (t >> np.uint64(14))) & M32).astype(np.float64) / 4294967296.0

    def ints(self, n, high):
        return np.floor(self.next(n) * high).astype(np.int64)

    def uniform(self, n, bound):
        return ((2 * self.next(n) - 1) * bound).astype(np.float32)

    def normal(self, n):
        x = self.next(2 * ((n + 1) // 2))
        u, v = 1 - x[0::2], x[1::2]
        r = np.sqrt(-2 * np.log(u))
        out = np.empty(2 * len(u), dtype=np.float64)
        out[0::2] = r * np.cos(2 * np.pi * v)
        out[1::2] = r * np.sin(2 * np.pi * v)
        return out[:n].astype(np.float32)


def draw(draws, seed):
    """The weights and data of src/weights.ts's drawsOf, drawn in the same order."""
    rng = DataRng(seed)
    weights, data = {}, {}
    for w in draws["weights"]:
        n = int(np.prod(w["shape"]))
        init = w["init"]
        values = rng.normal(n) if init["kind"] == "normal" else rng.uniform(n, init["bound"])
        weights[w["name"]] = torch.from_numpy(values).reshape(w["shape"])
    for d in draws["data"]:
        data[d["name"]] = torch.from_numpy(rng.ints(d["count"], d["high"]) + d.get("offset", 0))
    return weights, data


def load(params, weights):
    """Copies the drawn weights into the module parameters named by `params` (name -> Parameter)."""
    if set(params) != set(weights):
        raise ValueError(f"weights {sorted(weights)} do not match parameters {sorted(params)}")
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(weights[name].reshape(p.shape))


def sample_index(probs, u):
    """src/data.ts's sampleIndex, in double precision like JavaScript."""
    total = 0.0
    for p in probs:
        total += p
    acc, target = 0.0, u * total
    for i, p in enumerate(probs):
        acc += p
        if target < acc:
            return i
    return len(probs) - 1


def lm_model(s, weights):
    model = nn.ModuleDict(
        {
            "embedding": nn.Embedding(s["vocab"], s["embedding"]),
            "lstm": nn.LSTM(s["embedding"], s["hidden"], num_layers=s["layers"]),
            "head": nn.Linear(s["hidden"], s["vocab"]),
        }
    )
    params = {"embedding": model["embedding"].weight, "head.weight": model["head"].weight, "head.bias": model["head"].bias}
    params.update({f"lstm.{k}": v for k, v in model["lstm"].named_parameters()})
    load(params, weights)
    return model


def train_step(model, loss_fn, train):
    opt = torch.optim.Adam(model.parameters(), lr=train["lr"], betas=(0.9, 0.999), eps=1e-8)

    def run():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        if train["clipNorm"] is not None:
            nn.utils.clip_grad_norm_(model.parameters(), train["clipNorm"])
        opt.step()
        return loss.item()

    return run


def lm_train(s, train, weights, data):
    """W1, W2: embedding -> nn.LSTM over all steps -> linear -> mean cross-entropy over B*T, full BPTT."""
    model = lm_model(s, weights)
    T, B = s["steps"], s["batch"]
    tokens = data["tokens"].reshape(T, B)
    targets = data["targets"]

    def loss_fn():
        out, _ = model["lstm"](model["embedding"](tokens))  # (T, B, H)
        return F.cross_entropy(model["head"](out.reshape(T * B, -1)), targets)

    return train_step(model, loss_fn, train), None


def lm_generate(s, weights, seed):
    """W3: batch 1, one character at a time through nn.LSTM (one step per call, state carried),
    sampled from the softmax on the host with the shared generator (as the Node engines do, so
    every engine samples the same text) and fed back."""
    model = lm_model(s, weights)
    sampled = []

    @torch.no_grad()
    def run():
        sampler = DataRng(seed + 1)  # src/weights.ts samplerSeed
        us = sampler.next(s["chars"]).tolist()
        sampled.clear()
        state = None
        ch = 0
        for i in range(s["chars"]):
            out, state = model["lstm"](model["embedding"](torch.tensor([[ch]])), state)  # (1, 1, H)
            probs = F.softmax(model["head"](out[0]), dim=-1)[0]  # (V,)
            ch = sample_index(probs.tolist(), us[i])
            sampled.append(ch)
        return None

    return run, lambda: sampled


class Seq2Seq(nn.Module):
    """W4: encoder nn.LSTM over the source; decoder nn.LSTMCell per target position from the
    encoder's final state, its input the previous target token's embedding (teacher forcing)
    concatenated with the attention context from the previous decoder state (Bahdanau):
    e_s = v^T tanh(W_q h_{t-1} + W_k h_enc_s), alpha = softmax_s(e), ctx = sum_s alpha_s h_enc_s.
    Logits from the new decoder state and the context side by side (nlp's Seq2Seq)."""

    def __init__(self, s):
        super().__init__()
        E, H, A = s["embedding"], s["hidden"], s["attention"]
        self.src_embedding = nn.Embedding(s["srcVocab"], E)
        self.tgt_embedding = nn.Embedding(s["tgtVocab"], E)
        self.encoder = nn.LSTM(E, H)
        self.decoder = nn.LSTMCell(E + H, H)
        self.query = nn.Linear(H, A, bias=False)
        self.key = nn.Linear(H, A, bias=False)
        self.v = nn.Linear(A, 1, bias=False)
        self.out = nn.Linear(2 * H, s["tgtVocab"])

    def named_like_weights(self):
        p = {
            "src_embedding": self.src_embedding.weight,
            "tgt_embedding": self.tgt_embedding.weight,
            "attention.query": self.query.weight,
            "attention.key": self.key.weight,
            "attention.v": self.v.weight,
            "out.weight": self.out.weight,
            "out.bias": self.out.bias,
        }
        p.update({f"encoder.{k}": v for k, v in self.encoder.named_parameters()})
        p.update({f"decoder.{k}_l0": v for k, v in self.decoder.named_parameters()})
        return p

    def forward(self, src, tgt_in):
        enc, (h, c) = self.encoder(self.src_embedding(src))  # (S, B, H)
        h, c = h[0], c[0]
        keys = self.key(enc)  # (S, B, A), once
        ys = self.tgt_embedding(tgt_in)  # (T, B, E)
        outputs = []
        for t in range(ys.shape[0]):
            e = torch.tanh(keys + self.query(h))  # (S, B, A)
            alpha = F.softmax(self.v(e).squeeze(-1), dim=0)  # (S, B), over the source positions
            context = (alpha.unsqueeze(-1) * enc).sum(0)  # (B, H)
            h, c = self.decoder(torch.cat([ys[t], context], dim=1), (h, c))
            outputs.append(torch.cat([h, context], dim=1))
        return self.out(torch.stack(outputs).reshape(-1, 2 * h.shape[1]))  # (T*B, V)


def seq2seq_train(s, train, weights, data):
    model = Seq2Seq(s)
    load(model.named_like_weights(), weights)
    S, T, B = s["srcLength"], s["tgtLength"], s["batch"]
    src = data["src"].reshape(S, B)
    tgt_in = data["tgt_in"].reshape(T, B)
    tgt_out = data["tgt_out"]
    return train_step(model, lambda: F.cross_entropy(model(src, tgt_in), tgt_out), train), None


class ResNetEncoder(nn.Module):
    """W5, W6: @unroll/vision's ResNetEncoder (packages/vision/src/encoder/resnet.ts): per stage a
    stride-2 3x3 convolution with ReLU, then residual blocks relu(x + conv2(relu(conv1(x)))), 3x3,
    padding 1, biases; returns the grid averaged into the pooled vector and the region grid."""

    def __init__(self, s):
        super().__init__()
        self.stages = nn.ModuleList()
        in_c = 3
        for c in s["channels"]:
            stage = nn.Module()
            stage.down = nn.Conv2d(in_c, c, 3, stride=2, padding=1)
            stage.blocks = nn.ModuleList()
            for _ in range(s["blocks"]):
                block = nn.Module()
                block.conv1 = nn.Conv2d(c, c, 3, padding=1)
                block.conv2 = nn.Conv2d(c, c, 3, padding=1)
                stage.blocks.append(block)
            self.stages.append(stage)
            in_c = c

    def forward(self, x):
        for stage in self.stages:
            x = F.relu(stage.down(x))
            for block in stage.blocks:
                x = F.relu(x + block.conv2(F.relu(block.conv1(x))))
        pooled = x.mean((2, 3))  # (N, C)
        regions = x.flatten(2).transpose(1, 2)  # (N, h*w, C), a view
        return pooled, regions


def cnn_model(s, weights):
    model = ResNetEncoder(s)
    images = weights.pop("images").reshape(s["batch"], 3, s["size"], s["size"])  # an input, not a parameter
    load(dict(model.named_parameters()), weights)  # names as the state dict: stages.0.down.weight, ...
    return model, images


def cnn_forward(s, weights):
    """W5: the forward pass without autograd; the run's "loss" is the pooled vector's mean (a checksum)."""
    model, images = cnn_model(s, weights)

    @torch.no_grad()
    def run():
        pooled, _ = model(images)
        return pooled.mean().item()

    return run, None


def cnn_train(s, train, weights, data):
    """W6: one step: mean cross-entropy of the pooled vector (as logits) against the labels, Adam."""
    model, images = cnn_model(s, weights)
    labels = data["labels"]
    return train_step(model, lambda: F.cross_entropy(model(images)[0], labels), train), None


def matmul_run(s, weights):
    a, b = weights["a"], weights["b"]
    out = torch.empty(s["n"], s["n"])

    def run():
        torch.mm(a, b, out=out)
        return None

    return run, None


def build(w, seed):
    """Returns (run, sample): run() does one timed unit and returns the loss or None; sample()
    gives W3's sampled characters (else None)."""
    spec = w["spec"]
    kind, shape = spec["kind"], spec["shape"]
    weights, data = draw(w["draws"], seed)
    if kind == "lm-train":
        return lm_train(shape, spec["train"], weights, data)
    if kind == "lm-generate":
        return lm_generate(shape, weights, seed)
    if kind == "seq2seq-train":
        return seq2seq_train(shape, spec["train"], weights, data)
    if kind == "cnn-forward":
        return cnn_forward(shape, weights)
    if kind == "cnn-train":
        return cnn_train(shape, spec["train"], weights, data)
    if kind == "matmul":
        return matmul_run(shape, weights)
    raise ValueError(kind)


def metric(spec):
    kind, s = spec["kind"], spec["shape"]
    if kind == "lm-train":
        return "tokens/s", s["batch"] * s["steps"], 1.0
    if kind == "seq2seq-train":
        return "tokens/s", s["batch"] * s["tgtLength"], 1.0
    if kind == "lm-generate":
        return "chars/s", s["chars"], 1.0
    if kind in ("cnn-forward", "cnn-train"):
        return "images/s", s["batch"], 1.0
    return "GFLOP/s", 2 * s["n"] ** 3, 1e-9


def measure(w, run, sample, log):
    spec, plan = w["spec"], w["plan"]
    unit, work, scale = metric(spec)
    losses = []

    def record(x):
        if x is not None:
            losses.append(x)

    # Warm-up: plan["warmup"] runs, but only one where a run takes longer than plan["warmupSeconds"].
    warmup, last_warmup, warm_start = 0, 0.0, time.perf_counter()
    while warmup < plan["warmup"] and (warmup == 0 or time.perf_counter() - warm_start < plan["warmupSeconds"]):
        t0 = time.perf_counter()
        record(run())
        last_warmup = time.perf_counter() - t0
        warmup += 1
    # A matrix product repeats until a timed run lasts about REPEAT_TARGET_S (from the last warm-up run).
    repeats = min(MAX_REPEATS, max(1, math.ceil(REPEAT_TARGET_S / max(1e-6, last_warmup)))) if spec["kind"] == "matmul" else 1
    seconds = []
    busy0, own0 = machine_busy_seconds(), own_cpu_seconds()
    start = time.perf_counter()
    while len(seconds) < plan["runs"] or (len(seconds) < plan["maxRuns"] and time.perf_counter() - start < plan["minSeconds"]):
        t0 = time.perf_counter()
        for _ in range(repeats):
            record(run())
        seconds.append(time.perf_counter() - t0)
    wall = time.perf_counter() - start
    busy1, own = machine_busy_seconds(), own_cpu_seconds() - own0
    values = [work * repeats / s * scale for s in seconds]
    log(f"{spec['id']}: {len(seconds)} runs, median {sorted(values)[len(values) // 2]:.4g} {unit}")
    result = {
        "id": spec["id"],
        "spec": spec,
        "unit": unit,
        "warmup": warmup,
        "repeats": repeats,
        "seconds": seconds,
        "values": values,
        "backgroundCores": max(0.0, (busy1 - busy0 - own) / wall) if busy0 is not None and busy1 is not None and wall >= MIN_WALL_FOR_LOAD_S else None,
        "ownCores": own / wall if wall > 0 else None,
    }
    if losses:
        result["losses"] = losses
    if sample is not None:
        result["sample"] = sample()[:SAMPLE_LENGTH]
    return result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--job", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    with open(a.job) as f:
        job = json.load(f)
    threads = int(job["variant"].split("-")[0])
    policy = os.environ.get("OMP_WAIT_POLICY")
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    label = f"torch ({threads} thread{'s' if threads > 1 else ''}{', OMP_WAIT_POLICY=' + policy if policy else ''})"

    def log(s):
        sys.stderr.write(f"  [{label}] {s}\n")

    blas = blas_info()
    log(f"threads {torch.get_num_threads()}, BLAS: {blas['verdict']}")
    torch.manual_seed(job["seed"])
    results = []
    for w in job["workloads"]:
        spec = w["spec"]
        try:
            run, sample = build(w, job["seed"])
            results.append(measure(w, run, sample, log))
        except Exception as e:  # report the failure in the row, go on with the others
            log(f"{spec['id']}: failed: {e!r}")
            unit, _, _ = metric(spec)
            results.append({"id": spec["id"], "spec": spec, "unit": unit, "warmup": w["plan"]["warmup"], "repeats": 1,
                            "seconds": [], "values": [], "backgroundCores": None, "ownCores": None, "error": repr(e)})
    info = {
        "blas": blas["verdict"],
        "blasLibraries": " ".join(blas["libraries"]),
        "torchBlasInfo": blas["torch BLAS_INFO"],
        "parallel": f"at::get_num_threads()={torch.get_num_threads()}, interop={torch.get_num_interop_threads()}",
        "cpuCapability": (re.search(r"CPU capability usage: (\S+)", torch.__config__.show()) or [None, "?"])[1],
    }
    for k in ("openblas config", "openblas core", "openblas threads"):
        if blas.get(k):
            info[k.replace(" ", "_")] = blas[k]
    result = {
        "engine": "torch",
        "variant": job["variant"],
        "label": label,
        "threads": torch.get_num_threads(),
        "threadsNote": f"{torch.get_num_threads()}: torch.set_num_threads({threads}), OMP_NUM_THREADS=OPENBLAS_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '?')}"
        + (f", OMP_WAIT_POLICY={policy}" if policy else " (libgomp's default wait policy)"),
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "info": info,
        "workloads": results,
    }
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
