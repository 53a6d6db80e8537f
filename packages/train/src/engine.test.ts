import { fromArray, mean, mul, sub, type Tensor } from "@unroll/tensor";
import { describe, expect, it } from "vitest";
import { arraySource } from "./data.js";
import { type EngineFactory, libraryEngine } from "./engine.js";
import { sgd } from "./optim/index.js";
import { Trainer } from "./trainer.js";

type P = { w: Tensor };
type B = { x: Tensor; y: Tensor };
const loss = (p: P, b: B) => {
  const d = sub(mul(b.x, p.w), b.y);
  return { loss: mean(mul(d, d)), tokens: b.x.size };
};
const data = (): B[] => [1, 2, 3].map((k) => ({ x: fromArray([k, k + 1, k + 2]), y: fromArray([2 * k, 2 * k + 2, 2 * k + 4]) }));

describe("TrainerOptions.engine", () => {
  it("is the library's autodiff by default", async () => {
    const run = async (engine?: EngineFactory): Promise<number[]> => {
      const t = new Trainer({ params: { w: fromArray([0.5]) }, loss, data: arraySource(data(), { loop: true }), optimizer: sgd({ lr: 0.01 }), ...(engine ? { engine } : {}) });
      const losses: number[] = [];
      t.events.on("step", (e) => losses.push(e.loss));
      await t.run({ steps: 6 });
      return losses;
    };
    expect(await run(libraryEngine)).toEqual(await run());
  });

  it("runs every step's gradients through the engine given, asynchronous ones included", async () => {
    const seen: number[] = [];
    const slow: EngineFactory = {
      name: "slow",
      create(l) {
        const inner = libraryEngine.create(l);
        return {
          name: "slow",
          gradients: async (params, batch, carry, ctx) => {
            seen.push(ctx.step);
            await new Promise((r) => setTimeout(r, 1));
            return inner.gradients(params, batch, carry, ctx);
          },
        };
      },
    };
    const params = { w: fromArray([0.5]) };
    const t = new Trainer({ params, loss, data: arraySource(data(), { loop: true }), optimizer: sgd({ lr: 0.01 }), engine: slow});
    await t.run({ steps: 4 });
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(t.engine.name).toBe("slow");
    expect(params.w.data[0]!).toBeGreaterThan(0.5); // the updates used its gradients (w moves towards 2)
  });
});
