/**
 * Logarithm, sine and cosine from IEEE-754 basic operations only (+, -, *, /), which every
 * JavaScript engine rounds identically. `Math.log`/`Math.cos` are implementation-defined in
 * ECMAScript and may differ in the last bit between engines, which would break the promise that a
 * seed gives the same normal samples everywhere. Accuracy is ~1e-15 relative, far below float32's.
 */

const LN2 = 0.6931471805599453;
const SQRT1_2 = 0.7071067811865476;
const TWO_PI = 6.283185307179586;

/** Natural logarithm of x > 0 (finite). */
export function detLog(x: number): number {
  let e = 0;
  // Scaling by 2 is exact, so the mantissa reduction introduces no error.
  while (x < SQRT1_2) {
    x *= 2;
    e--;
  }
  while (x > 2 * SQRT1_2) {
    x *= 0.5;
    e++;
  }
  // log(x) = 2 atanh(s), s = (x-1)/(x+1), |s| <= 0.1716: the odd series converges fast.
  const s = (x - 1) / (x + 1);
  const s2 = s * s;
  let p = 1 / 25;
  for (let k = 11; k >= 0; k--) p = 1 / (2 * k + 1) + s2 * p;
  return e * LN2 + 2 * s * p;
}

function sinSmall(t: number): number {
  // Taylor series to t^17 for |t| <= pi/4: truncation error < 1e-17.
  const t2 = t * t;
  let p = 1;
  for (let k = 8; k >= 1; k--) p = 1 - p * (t2 / (2 * k * (2 * k + 1)));
  return t * p;
}

function cosSmall(t: number): number {
  const t2 = t * t;
  let p = 1;
  for (let k = 8; k >= 1; k--) p = 1 - p * (t2 / ((2 * k - 1) * (2 * k)));
  return p;
}

/** `[sin(2*pi*u), cos(2*pi*u)]` for u in [0, 1), reduced exactly in turns before the series. */
export function detSinCos2Pi(u: number): [number, number] {
  const q = Math.floor(u * 4); // quadrant; u*4 is exact
  let r = u - q * 0.25; // exact, in [0, 0.25)
  let swap = false;
  if (r > 0.125) {
    r = 0.25 - r; // exact
    swap = true;
  }
  const t = TWO_PI * r;
  let s = sinSmall(t);
  let c = cosSmall(t);
  if (swap) [s, c] = [c, s];
  switch (q & 3) {
    case 0:
      return [s, c];
    case 1:
      return [c, -s];
    case 2:
      return [-s, -c];
    default:
      return [-c, s];
  }
}
