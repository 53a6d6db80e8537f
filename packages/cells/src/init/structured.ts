// Initialisers with matrix structure rather than i.i.d. entries: orthogonal, identity (IRNN) and
// normalised positive definite (np-RNN). They are built in float64 and rounded to float32 once.
import { formatShape, ShapeError, sizeOf, Tensor, zeros as zeroTensor } from "@unroll/tensor";
import { qr } from "../linalg/qr.js";
import { symmetricEigen } from "../linalg/symmetric-eigen.js";
import { assertFiniteSetting, assertGain, assertSquareShape, type Initializer } from "./initializer.js";

export interface OrthogonalOptions {
  /** Multiplies the orthogonal matrix (default 1). */
  readonly gain?: number;
}

/**
 * A (semi-)orthogonal matrix, as torch.nn.init.orthogonal_ (Saxe et al. 2014): the weight is
 * viewed as `[rows, cols]` with cols the product of the other axes; draw a rows x cols standard
 * normal matrix, transpose it if rows < cols, take its thin QR and multiply Q's columns by
 * sign(diag R), which makes the result Haar-distributed (QR alone is not unique); transpose back
 * and scale by `gain`. Tall or square weights get orthonormal columns (WᵀW = gain² I), wide ones
 * orthonormal rows (WWᵀ = gain² I). A zero on R's diagonal (probability 0) counts as +1 where
 * PyTorch would zero the column.
 *
 * For stacked gates, `[4H, H]` is made orthogonal as a whole; `perGate(orthogonal())` makes each
 * H x H gate block orthogonal instead.
 */
export function orthogonal({ gain = 1 }: OrthogonalOptions = {}): Initializer {
  assertGain("orthogonal", gain);
  return {
    name: `orthogonal(gain=${gain})`,
    init: (shape, rng) => {
      if (shape.length < 2) {
        throw new ShapeError("orthogonal", `needs a weight of rank >= 2, got shape ${formatShape(shape)}`);
      }
      const size = sizeOf(shape);
      if (size === 0) return zeroTensor(shape, "float32");
      const rows = shape[0]!;
      const cols = size / rows;
      const wide = rows < cols;
      const [m, n] = wide ? [cols, rows] : [rows, cols];
      // Drawn as rows x cols and transposed, as PyTorch does, so a seed means the same entries.
      const drawn = rng.normal([rows, cols], 0, 1, "float64").data as Float64Array;
      const a = new Float64Array(m * n);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) a[wide ? j * n + i : i * n + j] = drawn[i * cols + j]!;
      }
      const { q, r } = qr({ rows: m, cols: n, data: a }); // q: m x n
      const out = new Float32Array(size);
      for (let j = 0; j < n; j++) {
        const s = r.data[j * n + j]! < 0 ? -gain : gain;
        for (let i = 0; i < m; i++) {
          const value = s * q.data[i * n + j]!;
          out[wide ? j * m + i : i * n + j] = value;
        }
      }
      return new Tensor(out, shape);
    },
  };
}

export interface IdentityOptions {
  /** The diagonal value (default 1); Le et al. also try small scales such as 0.01 for long tasks. */
  readonly scale?: number;
}

/**
 * scale · I for a square recurrent weight: the IRNN of Le, Jaitly & Hinton (2015), "A Simple Way to
 * Initialize Recurrent Networks of Rectified Linear Units". With relu and zero biases the hidden
 * state is copied forward unchanged until the inputs move it, so gradients neither vanish nor
 * explode at the start. Square only; for stacked gates use `perGate(identity())`.
 */
export function identity({ scale = 1 }: IdentityOptions = {}): Initializer {
  assertFiniteSetting("identity", "scale", scale);
  return {
    name: `identity(scale=${scale})`,
    init: (shape) => {
      const n = assertSquareShape("identity", shape, "for gate-stacked weights [gates*H, H] use perGate(identity())");
      const out = new Float32Array(n * n);
      for (let i = 0; i < n; i++) out[i * n + i] = scale;
      return new Tensor(out, [n, n]);
    },
  };
}

/**
 * The np-RNN recurrent weight of Talathi & Vartak (2016), "Improving performance of recurrent
 * neural network with relu nonlinearity": R ~ N(0, 1) of N x N, A = RᵀR/N + I, W = A/λmax(A).
 * W is symmetric positive definite with its largest eigenvalue exactly 1 and the others in (0, 1]:
 * like the identity it neither amplifies nor (along the top direction) shrinks the state, but
 * the other directions decay, which the authors found trains relu RNNs more reliably than IRNN.
 * λmax comes from the Jacobi eigensolver in float64 (O(N³): about 0.3 s at N = 256 and 4 s at
 * N = 512); rounding W to float32 moves its top eigenvalue by about 1e-7. Square only.
 */
export function npRnn(): Initializer {
  return {
    name: "npRnn()",
    init: (shape, rng) => {
      const n = assertSquareShape("npRnn", shape, "the np-RNN scheme is for the recurrent weight of a plain RNN");
      if (n === 0) return zeroTensor(shape, "float32");
      const r = rng.normal([n, n], 0, 1, "float64").data;
      const a = new Float64Array(n * n);
      // A = RᵀR/N + I, computed on the upper triangle and mirrored so that it is exactly symmetric.
      for (let i = 0; i < n; i++) {
        for (let j = i; j < n; j++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += r[k * n + i]! * r[k * n + j]!;
          const v = s / n + (i === j ? 1 : 0);
          a[i * n + j] = v;
          a[j * n + i] = v;
        }
      }
      const top = symmetricEigen({ rows: n, cols: n, data: a }, { vectors: false }).values[0]!;
      const out = new Float32Array(n * n);
      for (let i = 0; i < n * n; i++) out[i] = a[i]! / top;
      return new Tensor(out, [n, n]);
    },
  };
}
