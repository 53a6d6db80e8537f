// Canvas plumbing shared by the hand-drawn views (heatmaps, the complex plane, the gate strips).

/** Sizes a canvas for the device's pixel ratio and returns its 2-D context in CSS pixels. */
export function prepareCanvas(canvas: HTMLCanvasElement, width: number, height: number): CanvasRenderingContext2D {
  const ratio = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(width));
  const h = Math.max(1, Math.round(height));
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext("2d")!;
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  return ctx;
}

/** Width available to a canvas inside its container. */
export function availableWidth(el: HTMLElement, fallback = 480): number {
  const w = el.clientWidth;
  return w > 0 ? w : fallback;
}

/** Round, readable tick values between lo and hi (about `count` of them). */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(Math.abs(v) < 1e-12 ? 0 : v);
  return out;
}

/** Paints a grid of values as an image: `cell(col, row)` gives the colour of each cell. */
export function paintCells(
  ctx: CanvasRenderingContext2D,
  x: number,
  y: number,
  width: number,
  height: number,
  cols: number,
  rows: number,
  cell: (col: number, row: number) => readonly [number, number, number],
): void {
  if (cols === 0 || rows === 0) return;
  const image = new ImageData(cols, rows);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const [red, green, blue] = cell(c, r);
      const i = 4 * (r * cols + c);
      image.data[i] = red;
      image.data[i + 1] = green;
      image.data[i + 2] = blue;
      image.data[i + 3] = 255;
    }
  }
  // Scale the small image up without smoothing: each value stays a crisp block.
  const scratch = document.createElement("canvas");
  scratch.width = cols;
  scratch.height = rows;
  scratch.getContext("2d")!.putImageData(image, 0, 0);
  ctx.save();
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(scratch, x, y, width, height);
  ctx.restore();
}
