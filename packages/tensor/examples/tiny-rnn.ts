// A character-level vanilla RNN trained with truncated BPTT and Adagrad, in the spirit of
// Karpathy's min-char-rnn, using nothing but @unroll/tensor. It prints the falling loss and a
// sample. Run: pnpm --filter @unroll/tensor demo   [--steps N]
import {
  add,
  clamp,
  detach,
  fromArray,
  gather,
  matmul,
  noGrad,
  reshape,
  Rng,
  softmax,
  softmaxCrossEntropy,
  split,
  stack,
  type Tensor,
  tanh,
  valueAndGrad,
  zeros,
} from "@unroll/tensor";

const text =
  "Recurrent networks read a sequence one step at a time and carry a hidden state forward. " +
  "Backpropagation through time unrolls them and sends gradients back along the same path. " +
  "Gradients through many steps vanish or explode, so we clip them and initialise with care. ";

const stepsArg = process.argv.indexOf("--steps");
const steps = stepsArg > 0 ? Number(process.argv[stepsArg + 1]) : 1000;
const chars = [...new Set(text)].sort();
const vocab = new Map(chars.map((c, i) => [c, i]));
const ids = [...text].map((c) => vocab.get(c)!);
const [V, H, T, B] = [chars.length, 64, 25, 8]; // vocabulary, hidden, BPTT window, parallel streams
const rng = new Rng(1);

type Params = { embed: Tensor; weightHH: Tensor; bias: Tensor; weightOut: Tensor; biasOut: Tensor };
const params: Params = {
  embed: rng.normal([V, H], 0, 0.01), // row v = W_xh · onehot(v)
  weightHH: rng.normal([H, H], 0, 0.01),
  bias: zeros([H]),
  weightOut: rng.normal([V, H], 0, 0.01),
  biasOut: zeros([V]),
};

/** Mean cross-entropy over a window of T steps for B streams; returns the last hidden state too. */
function windowLoss(p: Params, inputs: Tensor, targets: Tensor, h0: Tensor): readonly [Tensor, Tensor] {
  const x = gather(p.embed, inputs); // (T, B, H)
  let h = h0; // (B, H)
  const hs: Tensor[] = [];
  for (const xt of split(x, T, 0)) {
    // h_t = tanh(W_xh x_t + W_hh h_{t-1} + b)
    h = tanh(add(add(reshape(xt, [B, H]), matmul(h, p.weightHH, { transB: true })), p.bias));
    hs.push(h);
  }
  const logits = add(matmul(stack(hs), p.weightOut, { transB: true }), p.biasOut); // (T, B, V)
  return [softmaxCrossEntropy(logits, targets), h];
}

const step = valueAndGrad(windowLoss, { hasAux: true });
const memory = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, new Float32Array(v.size)]));
const streamLength = Math.floor(ids.length / B);
let h = zeros([B, H]);
let position = 0;
let smooth = Math.log(V);

function batch(offset: number): [Tensor, Tensor] {
  const inputs = new Int32Array(T * B);
  const targets = new Int32Array(T * B);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const i = (b * streamLength + ((offset + t) % streamLength)) % ids.length;
      inputs[t * B + b] = ids[i]!;
      targets[t * B + b] = ids[(i + 1) % ids.length]!;
    }
  }
  return [fromArray(inputs, { shape: [T, B] }), fromArray(targets, { shape: [T, B] })];
}

console.log(`tiny RNN: ${V} symbols, hidden ${H}, window ${T}, ${B} streams, ${steps} Adagrad steps`);
for (let n = 1; n <= steps; n++) {
  const [inputs, targets] = batch(position);
  const { value, grads, aux } = step(params, inputs, targets, h);
  h = detach(aux); // truncated BPTT: carry the state, cut its gradient
  position += T;
  // Adagrad, lr 0.1, gradients clipped to [-5, 5] as in min-char-rnn; updates never recorded.
  noGrad(() => {
    for (const key of Object.keys(params) as (keyof Params)[]) {
      const g = clamp(grads[key], { min: -5, max: 5 }).data;
      const w = params[key].data;
      const m = memory[key]!;
      for (let i = 0; i < w.length; i++) {
        m[i] = m[i]! + g[i]! * g[i]!;
        w[i] = w[i]! - (0.1 * g[i]!) / Math.sqrt(m[i]! + 1e-8);
      }
    }
  });
  smooth = 0.9 * smooth + 0.1 * value.item();
  if (n === 1 || n % 100 === 0) console.log(`step ${String(n).padStart(4)}  loss ${smooth.toFixed(3)} nats/char`);
}

// A sampled continuation of a prompt, one character at a time with the state carried.
function pick(probs: ArrayLike<number>, u: number): number {
  let acc = 0;
  for (let i = 0; i < probs.length; i++) {
    acc += probs[i]!;
    if (u < acc) return i;
  }
  return probs.length - 1;
}

const sample = noGrad(() => {
  let state = zeros([1, H]);
  let out = "Rec";
  let next = vocab.get("R")!;
  for (const c of out.slice(1)) {
    state = tanh(add(add(gather(params.embed, fromArray([next], { dtype: "int32" })), matmul(state, params.weightHH, { transB: true })), params.bias));
    next = vocab.get(c)!;
  }
  for (let i = 0; i < 120; i++) {
    state = tanh(add(add(gather(params.embed, fromArray([next], { dtype: "int32" })), matmul(state, params.weightHH, { transB: true })), params.bias));
    const probs = softmax(add(matmul(state, params.weightOut, { transB: true }), params.biasOut));
    next = pick(probs.data, rng.random());
    out += chars[next];
  }
  return out;
});
console.log(`sample: ${sample}`);
