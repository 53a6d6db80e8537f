/**
 * Where training batches come from. A source knows its position so that a resumed run reads
 * exactly the batches the uninterrupted run would have read.
 */
export interface DataSource<B> {
  /** The next batch, or null when the data is exhausted (sources that loop over epochs never return null). */
  next(): B | null;
  /** A JSON-serialisable position (epoch, offset, shuffling state...). */
  position(): unknown;
  /** Continues from a position returned by `position()`. */
  seek(position: unknown): void;
}

/** A source over a fixed list of batches, looping when `loop` is set. */
export function arraySource<B>(batches: readonly B[], options: { loop?: boolean } = {}): DataSource<B> {
  let index = 0;
  return {
    next() {
      if (index >= batches.length) {
        if (!options.loop || batches.length === 0) return null;
        index = 0;
      }
      return batches[index++]!;
    },
    position: () => ({ index }),
    seek(position) {
      const p = position as { index?: unknown } | null;
      if (typeof p?.index !== "number" || !Number.isInteger(p.index) || p.index < 0 || p.index > batches.length) {
        throw new TypeError(`arraySource.seek: not a position of this source: ${JSON.stringify(position)}`);
      }
      index = p.index;
    },
  };
}
