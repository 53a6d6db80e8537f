import { Rng, ValueRangeError } from "@unroll/tensor";
import type { RgbImage } from "../image/decode.js";

// Procedural captioning data that a captioner must learn to describe: coloured shapes on white,
// with compositional captions ("a small red circle above a blue square"), and short videos of a
// moving shape ("a green triangle moves left"). Every image and caption follows from the seed.

export const COLOURS: Readonly<Record<string, readonly [number, number, number]>> = {
  red: [220, 40, 40],
  green: [40, 170, 60],
  blue: [40, 80, 220],
  yellow: [230, 200, 30],
};
export const SHAPES = ["circle", "square", "triangle"] as const;
export const SIZES = ["small", "large"] as const;
export const RELATIONS = ["above", "below", "left of", "right of"] as const;
export const MOTIONS = ["moves left", "moves right", "moves up", "moves down"] as const;

type Shape = (typeof SHAPES)[number];
type Size = (typeof SIZES)[number];

interface Figure {
  readonly shape: Shape;
  readonly colour: string;
  readonly size: Size;
  /** Centre, in [0, 1] of the image's width and height. */
  readonly x: number;
  readonly y: number;
}

/** The radius of a figure as a fraction of the image side. */
function radius(size: Size): number {
  return size === "small" ? 0.1 : 0.17;
}

/** Draws figures onto a white `side × side` RGB image. */
function draw(figures: readonly Figure[], side: number): RgbImage {
  const data = new Uint8Array(side * side * 3).fill(255);
  for (const f of figures) {
    const r = radius(f.size) * side;
    const cx = f.x * side;
    const cy = f.y * side;
    const [R, G, B] = COLOURS[f.colour]!;
    for (let y = Math.max(0, Math.floor(cy - r)); y <= Math.min(side - 1, Math.ceil(cy + r)); y++) {
      for (let x = Math.max(0, Math.floor(cx - r)); x <= Math.min(side - 1, Math.ceil(cx + r)); x++) {
        const dx = x + 0.5 - cx;
        const dy = y + 0.5 - cy;
        let inside: boolean;
        if (f.shape === "circle") inside = dx * dx + dy * dy <= r * r;
        else if (f.shape === "square") inside = Math.abs(dx) <= r * 0.85 && Math.abs(dy) <= r * 0.85;
        else inside = dy <= r * 0.8 && dy >= -r && Math.abs(dx) <= ((dy + r) / (1.8 * r)) * r; // apex up
        if (!inside) continue;
        const o = (y * side + x) * 3;
        data[o] = R;
        data[o + 1] = G;
        data[o + 2] = B;
      }
    }
  }
  return { width: side, height: side, data };
}

function describe(f: Figure, withSize: boolean): string {
  return `${withSize ? `${f.size} ` : ""}${f.colour} ${f.shape}`;
}

export interface ShapesOptions {
  /** Number of examples. */
  readonly count: number;
  /** Image side in pixels (default 32). */
  readonly side?: number;
  readonly seed?: number;
}

export interface CaptionedImage {
  readonly image: RgbImage;
  readonly caption: string;
}

function check(op: string, options: { count: number; side?: number }): number {
  if (!Number.isInteger(options.count) || options.count < 0) throw new ValueRangeError(op, `count must be a non-negative integer, got ${options.count}`);
  const side = options.side ?? 32;
  if (!Number.isInteger(side) || side < 16) throw new ValueRangeError(op, `side must be an integer of at least 16 pixels, got ${side}`);
  return side;
}

/**
 * Images of one or two coloured shapes with compositional captions: "a large blue square", or "a
 * small red circle above a green triangle" (the first shape's size is named, relations are above,
 * below, left of, right of). Half the examples have one shape, half two.
 */
export function shapesDataset(options: ShapesOptions): CaptionedImage[] {
  const side = check("shapesDataset", options);
  const rng = new Rng(options.seed ?? 0);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.random() * xs.length)]!;
  const colours = Object.keys(COLOURS);
  const out: CaptionedImage[] = [];
  for (let n = 0; n < options.count; n++) {
    const jitter = (): number => (rng.random() - 0.5) * 0.1;
    if (rng.random() < 0.5) {
      const f: Figure = { shape: pick(SHAPES), colour: pick(colours), size: pick(SIZES), x: 0.5 + jitter(), y: 0.5 + jitter() };
      out.push({ image: draw([f], side), caption: `a ${describe(f, true)}` });
      continue;
    }
    const relation = pick(RELATIONS);
    // The first figure where the relation puts it, the second opposite; both small enough to fit.
    const [ax, ay, bx, by] =
      relation === "above" ? [0.5, 0.27, 0.5, 0.73] : relation === "below" ? [0.5, 0.73, 0.5, 0.27] : relation === "left of" ? [0.27, 0.5, 0.73, 0.5] : [0.73, 0.5, 0.27, 0.5];
    const a: Figure = { shape: pick(SHAPES), colour: pick(colours), size: pick(SIZES), x: ax + jitter(), y: ay + jitter() };
    let b: Figure;
    do b = { shape: pick(SHAPES), colour: pick(colours), size: "small", x: bx + jitter(), y: by + jitter() };
    while (b.shape === a.shape && b.colour === a.colour);
    out.push({ image: draw([a, b], side), caption: `a ${describe(a, true)} ${relation} a ${describe(b, false)}` });
  }
  return out;
}

export interface CaptionedVideo {
  /** The frames, in order. */
  readonly frames: RgbImage[];
  readonly caption: string;
}

/** Short videos of one shape moving across the frame: "a green triangle moves left". */
export function movingShapesDataset(options: ShapesOptions & { readonly frames?: number }): CaptionedVideo[] {
  const side = check("movingShapesDataset", options);
  const frames = options.frames ?? 8;
  if (!Number.isInteger(frames) || frames < 2) throw new ValueRangeError("movingShapesDataset", `frames must be an integer of at least 2, got ${frames}`);
  const rng = new Rng(options.seed ?? 0);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.random() * xs.length)]!;
  const out: CaptionedVideo[] = [];
  for (let n = 0; n < options.count; n++) {
    const shape = pick(SHAPES);
    const colour = pick(Object.keys(COLOURS));
    const motion = pick(MOTIONS);
    const [dx, dy] = motion === "moves left" ? [-1, 0] : motion === "moves right" ? [1, 0] : motion === "moves up" ? [0, -1] : [0, 1];
    const offset = (rng.random() - 0.5) * 0.2;
    const video: RgbImage[] = [];
    for (let k = 0; k < frames; k++) {
      const progress = 0.2 + (0.6 * k) / (frames - 1); // from 0.2 to 0.8 of the frame along the motion
      const along = (d: number): number => (d === 0 ? 0.5 + offset : d > 0 ? progress : 1 - progress);
      video.push(draw([{ shape, colour, size: "small", x: along(dx), y: along(dy) }], side));
    }
    out.push({ frames: video, caption: `a ${colour} ${shape} ${motion}` });
  }
  return out;
}
