import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { makeOutput } from "./output.js";
import { TrainingProgress } from "./progress.js";

/** A stream that passes for a terminal and keeps what is drawn on it. */
function terminal(): { stream: NodeJS.WriteStream; text: () => string } {
  let text = "";
  const stream = new Writable({ write: (chunk: Buffer, _enc, done) => ((text += chunk.toString()), done()) }) as unknown as NodeJS.WriteStream;
  Object.assign(stream, { isTTY: true, columns: 200, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  return { stream, text: () => text };
}

const event = (step: number, etaMs: number) => ({ step, loss: 2.5, gradNorm: 0.5, lr: 2e-3, tokensPerSecond: 1000, etaMs, seconds: 1, tokens: 1000 });

describe("the progress bar", () => {
  it("shows the time left with its unit, on a terminal and in the plain lines", () => {
    const t = terminal();
    const bar = new TrainingProgress(makeOutput(false), 100, true, t.stream);
    bar.step(event(1, 113_000) as never);
    bar.step(event(2, 3_725_000) as never);
    bar.stop();
    expect(t.text()).toMatch(/ETA 1m53s/);
    expect(t.text()).toMatch(/ETA 1h02m/);
    expect(t.text()).not.toMatch(/ETA \d+(?![\dmh])/);
  });
});
