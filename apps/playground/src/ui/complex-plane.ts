// Eigenvalues of W_hh on the complex plane with the unit circle: inside it, repeated products of
// W_hh shrink (vanishing); outside, they grow (exploding). The spectrum at step 0 stays in grey.
import { availableWidth, prepareCanvas, ticks } from "./canvas.js";

export interface EigenPoints {
  readonly real: Float64Array;
  readonly imag: Float64Array;
}

export function drawComplexPlane(canvas: HTMLCanvasElement, current: EigenPoints | null, initial: EigenPoints | null): void {
  const pad = 30;
  // A panel narrower than the margins (while the page lays out, or on a narrow screen) still gets
  // a plot that fits them: the radius below stays positive.
  const size = Math.max(2 * pad + 60, Math.min(availableWidth(canvas.parentElement!), 340));
  const ctx = prepareCanvas(canvas, size, size);
  let extent = 1.25;
  for (const p of [current, initial]) {
    if (!p) continue;
    for (let i = 0; i < p.real.length; i++) extent = Math.max(extent, 1.1 * Math.hypot(p.real[i]!, p.imag[i]!));
  }
  const scale = (size - 2 * pad) / (2 * extent);
  const cx = size / 2;
  const cy = size / 2;
  const X = (re: number): number => cx + re * scale;
  const Y = (im: number): number => cy - im * scale;

  ctx.strokeStyle = "#ddd";
  ctx.fillStyle = "#555";
  ctx.lineWidth = 1;
  ctx.textAlign = "center";
  for (const t of ticks(-extent, extent, 4)) {
    ctx.beginPath();
    ctx.moveTo(X(t), pad);
    ctx.lineTo(X(t), size - pad);
    ctx.moveTo(pad, Y(t));
    ctx.lineTo(size - pad, Y(t));
    ctx.stroke();
    ctx.fillText(String(+t.toFixed(2)), X(t), size - pad + 12);
  }
  ctx.strokeStyle = "#888";
  ctx.beginPath();
  ctx.moveTo(pad, cy);
  ctx.lineTo(size - pad, cy);
  ctx.moveTo(cx, pad);
  ctx.lineTo(cx, size - pad);
  ctx.stroke();
  ctx.fillText("Re", size - pad + 12, cy);
  ctx.fillText("Im", cx, pad - 12);

  ctx.strokeStyle = "#c0392b";
  ctx.setLineDash([5, 4]);
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.arc(cx, cy, scale, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.setLineDash([]);

  const dots = (p: EigenPoints, color: string, radius: number): void => {
    ctx.fillStyle = color;
    for (let i = 0; i < p.real.length; i++) {
      ctx.beginPath();
      ctx.arc(X(p.real[i]!), Y(p.imag[i]!), radius, 0, 2 * Math.PI);
      ctx.fill();
    }
  };
  if (initial) dots(initial, "rgba(120, 120, 120, 0.45)", 2.5);
  if (current) dots(current, "rgba(31, 95, 191, 0.85)", 3);
  canvas.dataset.points = String(current?.real.length ?? 0);
}
