"""Continue training an `unroll export torch` model in PyTorch: one CPU, one GPU, or many with torchrun.

    python train.py --data input.txt --steps 1000                   # CPU, or the GPU when there is one
    torchrun --standalone --nproc_per_node 4 train.py --data input.txt --steps 1000 --batch 128

It trains as `unroll train lm` does: the text split 90/10 (the run's --train-fraction), --batch
streams read in windows of --window tokens with the hidden state carried from window to window
(truncated BPTT, char-rnn's loader), mean cross-entropy, clipping by global norm (--clip), the run's
optimiser (Adam by default) and learning-rate schedule, validation every --eval-every steps.

With the run's own text, batch and window it continues the run where its checkpoint stopped: the
same next batch, the carried hidden state, the optimiser's moments, the step count, so its losses
are those of `unroll train lm --resume` (to float rounding, without dropout). Another text, batch or
window starts the streams afresh (the optimiser state is kept: it does not depend on them).

With torchrun every process takes --batch / world-size of the streams and DistributedDataParallel
averages the gradients, so N processes train the same model as one process with the whole batch.
Checkpoints go to --out (default: continued/ beside this file) in the layout of the export itself:
model.py's load() reads them, and `python train.py --export DIR` continues from them again.
"""

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import model as exported  # noqa: E402  (model.py beside this file)
import tokenizer as tokenizers  # noqa: E402

IGNORE_INDEX = -100


class Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows the defaults, except where there is none to show."""

    def _get_help_string(self, action):
        return action.help if action.default is None or action.default is False else super()._get_help_string(action)


def parse_args(training):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=Help)
    p.add_argument("--export", default=HERE, help="the export (or a --out of this script) to continue from")
    p.add_argument("--data", default=training.get("data") if os.path.isfile(str(training.get("data"))) else None, help="the training text (UTF-8)")
    p.add_argument("--steps", type=int, default=100, help="steps to train (0: only evaluate)")
    p.add_argument("--out", default=None, help="where to write checkpoints (default: continued/ beside this file)")
    p.add_argument("--batch", type=int, default=training.get("batchSize", 32), help="streams per step, over all processes")
    p.add_argument("--window", type=int, default=training.get("window", 64), help="time steps per batch (truncated BPTT)")
    p.add_argument("--lr", type=float, default=None, help="base learning rate (default: the run's)")
    p.add_argument("--clip", type=float, default=training.get("clip", 5.0), help="global-norm gradient clipping (0: off)")
    p.add_argument("--total-steps", type=int, default=None, help="the step a cosine schedule ends at (default: the step reached after --steps, as `unroll train lm --resume` does)")
    p.add_argument("--train-fraction", type=float, default=training.get("trainFraction", 0.9), help="the part of the text that trains (the rest validates)")
    p.add_argument("--eval-every", type=int, default=training.get("evalEvery", 200), help="validate every N steps (0: only at the end)")
    p.add_argument("--eval-tokens", type=int, default=training.get("evalTokens"), help="cap on the validation tokens scored")
    p.add_argument("--save-every", type=int, default=500, help="write a checkpoint to --out every N steps (and at the end)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--seed", type=int, default=training.get("seed", 0), help="seeds dropout")
    p.add_argument("--fresh-optimizer", action="store_true", help="start the optimiser's moments from zero")
    p.add_argument("--json", action="store_true", help="one JSON object per line on stdout")
    return p.parse_args()


def split_text(text, fraction):
    """unroll's splitText: the first floor(n * fraction) code points train, the rest validate."""
    cut = math.floor(len(text) * fraction)
    return text[:cut], text[cut:]


class StreamBatches:
    """unroll's streamBatches: B contiguous streams of L = (n - 1) // B inputs, read in windows of T.

    `columns` selects this process's streams; the position (epoch, window) is that of the checkpoint.
    """

    def __init__(self, ids, batch, window, columns, position=(0, 0)):
        self.ids, self.T, self.columns = ids, window, columns
        self.L = (len(ids) - 1) // batch
        if self.L < 1:
            raise SystemExit(f"error: the text is too short: {len(ids)} tokens for {batch} streams")
        self.windows = -(-self.L // window)
        self.epoch, self.window = position
        starts = torch.tensor([b * self.L for b in columns])
        self.offsets = starts[None, :] + torch.arange(window)[:, None]  # (T, b)

    def next(self):
        start = self.window * self.T
        steps = min(self.T, self.L - start)
        at = self.offsets[:steps] + start  # (T, b)
        batch = (self.ids[at], self.ids[at + 1], self.window == 0)
        self.window += 1
        if self.window == self.windows:
            self.window, self.epoch = 0, self.epoch + 1
        return batch


@torch.no_grad()
def evaluate(model, ids, device, batch=16, window=128):
    """unroll's evaluate: every target of `ids` scored once, S streams, state carried. Nats per token."""
    n = len(ids) - 1
    s = min(batch, n)
    q, r = divmod(n, s)
    steps = q + (r > 0)
    starts = torch.tensor([k * q + min(k, r) for k in range(s)])
    lengths = torch.tensor([q + (k < r) for k in range(s)])
    total, state = 0.0, None
    for begin in range(0, steps, window):
        t = torch.arange(begin, min(begin + window, steps))[:, None]  # (T, 1)
        at = starts[None, :] + t  # (T, S)
        targets = torch.where(t < lengths[None, :], ids[torch.clamp(at + 1, max=n)], torch.tensor(IGNORE_INDEX))
        logits, state = model(ids[at].to(device), state)
        total += F.cross_entropy(logits.flatten(0, 1), targets.to(device).flatten(), ignore_index=IGNORE_INDEX, reduction="sum").item()
    return total / n


def lr_at(step, base, schedule, total_steps):
    """The learning rate of step `step` (0-based), unroll's schedules (packages/train/src/schedules)."""
    name = schedule.get("name", "constant")
    if name == "cosine":
        warmup, low = schedule.get("warmupSteps", 0), schedule.get("minLr", 0.0)
        if step < warmup:
            return base * step / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return low + (base - low) * (1 + math.cos(math.pi * progress)) / 2
    if name == "step":
        return base * schedule.get("gamma", 0.5) ** (step // schedule.get("stepSize", 1000))
    if name == "plateau":
        return schedule.get("lr", base)  # the rate the plateau schedule had reached; kept constant here
    return base


def make_optimizer(params, o):
    """unroll's optimiser settings (config.json "optimizer") as the torch.optim class it reproduces."""
    h, lr = o["hyper"], o["lr"]
    if o["name"] in ("adam", "adamw"):
        cls = torch.optim.Adam if o["name"] == "adam" else torch.optim.AdamW
        kw = dict(betas=(h["beta1"], h["beta2"]), eps=h["eps"], weight_decay=h["weightDecay"], amsgrad=h["amsgrad"])
    elif o["name"] == "sgd":
        cls, kw = torch.optim.SGD, dict(momentum=h["momentum"], dampening=h["dampening"], nesterov=h["nesterov"], weight_decay=h["weightDecay"])
    elif o["name"] == "rmsprop":
        cls, kw = torch.optim.RMSprop, dict(alpha=h["alpha"], eps=h["eps"], weight_decay=h["weightDecay"], momentum=h["momentum"], centered=h["centered"])
    elif o["name"] == "adagrad":
        cls, kw = torch.optim.Adagrad, dict(lr_decay=h["lrDecay"], weight_decay=h["weightDecay"], initial_accumulator_value=h["initialAccumulatorValue"], eps=h["eps"])
    else:
        raise SystemExit(f"error: unknown optimiser {o['name']!r}")
    if h.get("maximize"):
        kw["maximize"] = True
    return cls, kw, cls(params, lr=lr, **kw)


def step_count_like(cls, kw, step):
    """The optimiser's step counter as this torch version keeps it (a tensor or an int), or None."""
    p = torch.zeros(1, requires_grad=True)
    p.grad = torch.zeros(1)
    probe = cls([p], lr=0.0, **kw)
    probe.step()
    s = probe.state[p].get("step")
    if s is None:
        return None
    return torch.tensor(float(step), dtype=s.dtype) if torch.is_tensor(s) else step


def main():
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--export", default=HERE)
    export_dir = first.parse_known_args()[0].export
    config = exported.read_config(export_dir)
    training = config["training"]
    args = parse_args(training)
    if args.data is None:
        raise SystemExit("error: give the training text with --data FILE")

    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device(args.device or (f"cuda:{local}" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if distributed:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if args.batch % world != 0:
        raise SystemExit(f"error: --batch {args.batch} does not split into {world} processes")
    torch.manual_seed(args.seed + rank)
    lead = rank == 0

    def report(event, text, **fields):
        if not lead:
            return
        print(json.dumps({"event": event, **fields}) if args.json else text, flush=True)

    model, _ = exported.load(export_dir, device)
    model.train()
    with open(args.data, encoding="utf-8-sig", newline="") as f:  # as unroll reads it: BOM dropped, line ends kept
        text = f.read()
    tok = tokenizers.load(os.path.join(export_dir, "tokenizer.json"))
    train_text, valid_text = split_text(text, args.train_fraction)
    train_ids = torch.tensor(tok.encode(train_text), dtype=torch.int64)
    valid_ids = torch.tensor(tok.encode(valid_text), dtype=torch.int64)
    if args.eval_tokens is not None:
        valid_ids = valid_ids[: args.eval_tokens + 1]

    # The run's own text, batch and window: continue its streams where the checkpoint stopped.
    resume = config["resume"]
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    corpus = config.get("corpus") or {}
    same = corpus.get("sha256") == digest and args.batch == training.get("batchSize", 32) and args.window == training.get("window", 64)
    stream = training.get("batching", "stream") == "stream"
    carry_path = os.path.join(export_dir, "carry.safetensors")
    continues = same and stream and resume.get("data") is not None
    if not continues:
        report("note", "note: not the run's own text, batch or window (or not stream batching): the streams start afresh", step=resume["step"])
    per_rank = args.batch // world
    columns = list(range(rank * per_rank, (rank + 1) * per_rank))
    position = (resume["data"]["epoch"], resume["data"]["window"]) if continues else (0, 0)
    data = StreamBatches(train_ids, args.batch, args.window, columns, position)
    state = None
    if continues and os.path.exists(carry_path):
        carry, _ = exported.read_safetensors(carry_path)
        if carry:
            state = exported.state_from_unroll(model.cell, {k: v[:, columns[0] : columns[-1] + 1].contiguous() for k, v in carry.items()}, device)

    o = dict(config["optimizer"])
    base_lr = args.lr if args.lr is not None else o["baseLr"]
    cls, kw, optimizer = make_optimizer(model.parameters(), o)
    names = {p: n for n, p in model.named_parameters()}
    step = resume["step"]
    opt_path = os.path.join(export_dir, "optimizer.safetensors")
    if not args.fresh_optimizer and os.path.exists(opt_path) and o["step"] > 0:
        buffers, _ = exported.read_safetensors(opt_path)
        counter = step_count_like(cls, kw, o["step"])
        for p, n in names.items():
            s = {k.split("/", 1)[0]: v.to(device) for k, v in buffers.items() if k.split("/", 1)[1] == n}
            if counter is not None:
                s["step"] = counter.clone() if torch.is_tensor(counter) else counter
            optimizer.state[p] = s
    net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[local] if device.type == "cuda" else None) if distributed else model
    if args.total_steps is not None:
        total_steps = args.total_steps
    elif "totalSteps" in (config.get("schedule") or {}):
        total_steps = step + args.steps  # the new target: a cosine schedule follows it, as on `unroll train lm --resume`
    else:
        total_steps = 10_000  # unroll's length for a run without a step target
    lr_factor = resume.get("lrFactor", 1.0)
    out = args.out or os.path.join(HERE, "continued")

    def save():
        h = {k: v.contiguous() for k, v in exported.state_to_unroll(state).items()} if state is not None else {}
        if distributed and h:
            h = {k: torch.cat(gather(v), dim=1) for k, v in h.items()}
        if not lead:
            return
        os.makedirs(out, exist_ok=True)
        exported.write_safetensors(os.path.join(out, "weights.safetensors"), model.unroll_state_dict())
        bufs = {f"{k}/{names[p]}": v for p, s in optimizer.state.items() for k, v in s.items() if k != "step"}
        exported.write_safetensors(os.path.join(out, "optimizer.safetensors"), bufs)
        exported.write_safetensors(os.path.join(out, "carry.safetensors"), h)
        for name in ("tokenizer.json", "model.py", "tokenizer.py", "train.py"):
            if os.path.abspath(os.path.join(export_dir, name)) != os.path.abspath(os.path.join(out, name)):
                shutil.copyfile(os.path.join(export_dir, name), os.path.join(out, name))
        saved = dict(config)
        saved["training"] = {**training, "data": args.data, "batchSize": args.batch, "window": args.window, "batching": "stream", "clip": args.clip}
        saved["corpus"] = {"sha256": digest, "bytes": len(text.encode("utf-8"))}
        saved["optimizer"] = {**o, "baseLr": base_lr, "step": o["step"] + steps_done, "lr": lr}
        saved["resume"] = {"step": step, "data": {"epoch": data.epoch, "window": data.window}, "lrFactor": lr_factor}
        tmp = os.path.join(out, f"config.json.tmp-{os.getpid()}")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(saved, f, indent=2)
        os.replace(tmp, os.path.join(out, "config.json"))  # last: config.json names a complete checkpoint
        report("saved", f"saved step {step} to {out}", step=step, out=out)

    def gather(t):
        parts = [torch.empty_like(t) for _ in range(world)]
        dist.all_gather(parts, t)
        return parts

    def validate():
        model.eval()
        loss = evaluate(model, valid_ids, device) if lead else 0.0
        model.train()
        report("validation", f"step {step}: validation loss {loss:.4f} nats/token, perplexity {math.exp(loss):.2f}", step=step, loss=loss)

    steps_done, lr, started = 0, o["lr"], time.time()
    report("start", f"continuing from step {step} on {world} process(es), {device.type}: {sum(p.numel() for p in model.parameters())} parameters", step=step, world=world, device=device.type)
    for _ in range(args.steps):
        inputs, targets, reset = data.next()
        if reset:
            state = None
        lr = lr_at(step, base_lr, config.get("schedule") or {}, total_steps) * lr_factor
        for group in optimizer.param_groups:
            group["lr"] = lr
        logits, state = net(inputs.to(device), state)
        loss = F.cross_entropy(logits.flatten(0, 1), targets.to(device).flatten(), ignore_index=IGNORE_INDEX)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip) if args.clip > 0 else torch.tensor(0.0)
        optimizer.step()
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
        step, steps_done = step + 1, steps_done + 1
        reported = loss.detach()
        if distributed:
            dist.all_reduce(reported)
            reported /= world
        report("step", f"step {step}: loss {reported.item():.4f}, gradient norm {norm.item():.3f}, lr {lr:g}", step=step, loss=reported.item(), gradNorm=norm.item(), lr=lr)
        if args.eval_every > 0 and step % args.eval_every == 0:
            validate()
        if args.save_every > 0 and steps_done % args.save_every == 0:
            save()
    if args.eval_every == 0 or step % args.eval_every != 0 or args.steps == 0:
        validate()
    save()
    report("done", f"done at step {step} in {time.time() - started:.1f} s", step=step)
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
