/**
 * Logarithm, sine and cosine from IEEE-754 basic operations only (+, -, *, /), which every
 * JavaScript engine rounds identically. `Math.log`/`Math.cos` are implementation-defined in
 * ECMAScript and may differ in the last bit between engines, which would break the promise that a
 * seed gives the same normal samples everywhere. detLog is within ~1 ulp, sin/cos within ~1e-15:
 * far below float32's resolution.
 */

// ln 2 split as fdlibm's e_log.c does: LN2_HI ends in 21 zero bits, so e * LN2_HI is exact.
const LN2_HI = 6.93147180369123816490e-1;
const LN2_LO = 1.90821492927058770002e-10;
const SQRT1_2 = 0.7071067811865476;
const TWO_PI = 6.283185307179586;

/** Natural logarithm of x > 0 (finite), within ~1 ulp (the scheme of fdlibm's e_log.c). */
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
  // log(1+f) = 2 atanh(s), s = f/(2+f), |s| <= 0.1716. Written as f - (hfsq - s*(hfsq + r)) so
  // that the exact f (Sterbenz) carries the leading bits and rounding only touches the small
  // correction; summing 2*s*p directly loses up to ~2 ulp near x = 1 and x = SQRT1_2.
  const f = x - 1;
  const s = f / (2 + f);
  const z = s * s;
  let p = 2 / 25;
  for (let k = 11; k >= 1; k--) p = 2 / (2 * k + 1) + z * p;
  const r = z * p; // 2 atanh(s) = 2s + s*r
  const hfsq = 0.5 * f * f;
  return e * LN2_HI - (hfsq - (s * (hfsq + r) + e * LN2_LO) - f);
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
