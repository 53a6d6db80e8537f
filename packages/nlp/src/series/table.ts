import { ValueRangeError } from "@unroll/tensor";
import { DataError } from "../data/errors.js";

/** A numeric table: named columns, rows in file order. */
export interface NumericTable {
  readonly columns: readonly string[];
  /** Row-major, `rows × columns.length`. */
  readonly values: Float64Array;
  readonly rows: number;
}

/**
 * Reads a CSV of numbers with a header line (comma-separated; quotes are not needed for numbers
 * and not supported). Blank lines are skipped. A row with another number of cells, an empty cell
 * or a cell that is not a number is an error naming the line and the column: a model must never
 * see a NaN it did not ask for.
 */
export function parseNumericCsv(content: string, path = "the input"): NumericTable {
  const lines = content.split(/\r?\n/);
  const headerAt = lines.findIndex((l) => l.trim() !== "");
  if (headerAt < 0) throw new DataError("EMPTY", `${path} is empty: a CSV needs a header line and rows`, { path });
  const columns = lines[headerAt]!.split(",").map((c) => c.trim());
  for (const [i, c] of columns.entries()) {
    if (c === "") throw new DataError("MALFORMED", `${path} line ${headerAt + 1}: column ${i + 1} of the header has no name`, { path });
    if (columns.indexOf(c) !== i) throw new DataError("MALFORMED", `${path} line ${headerAt + 1}: the column name "${c}" appears twice`, { path });
  }
  const values: number[] = [];
  let rows = 0;
  for (let i = headerAt + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    const cells = line.split(",");
    if (cells.length !== columns.length) {
      throw new DataError("MALFORMED", `${path} line ${i + 1} has ${cells.length} cells but the header names ${columns.length} columns (${columns.join(", ")})`, { path });
    }
    for (const [j, raw] of cells.entries()) {
      const cell = raw.trim();
      if (cell === "") throw new DataError("MALFORMED", `${path} line ${i + 1}, column "${columns[j]}": the value is missing (fill it in, or leave the row out)`, { path });
      const v = Number(cell);
      if (!Number.isFinite(v)) throw new DataError("MALFORMED", `${path} line ${i + 1}, column "${columns[j]}": ${JSON.stringify(cell)} is not a number`, { path });
      values.push(v);
    }
    rows++;
  }
  if (rows === 0) throw new DataError("EMPTY", `${path} has a header but no rows`, { path });
  return { columns, values: Float64Array.from(values), rows };
}

/** The index of a named column; an unknown name is an error that lists the columns. */
export function columnIndex(table: Pick<NumericTable, "columns">, name: string, what = "column"): number {
  const i = table.columns.indexOf(name);
  if (i < 0) throw new ValueRangeError("columnIndex", `there is no ${what} "${name}"; the columns are ${table.columns.join(", ")}`);
  return i;
}

/** One column's values. */
export function column(table: NumericTable, name: string): Float64Array {
  const j = columnIndex(table, name);
  const C = table.columns.length;
  return Float64Array.from({ length: table.rows }, (_, r) => table.values[r * C + j]!);
}

/**
 * The table's rows split into separate series by a grouping column (one sensor each), keeping
 * file order within a series; the chosen feature columns only, row-major `length × features`.
 */
export function seriesOf(table: NumericTable, features: readonly string[], groupBy?: string): { readonly group: number | null; readonly values: Float64Array; readonly length: number }[] {
  const idx = features.map((f) => columnIndex(table, f, "feature column"));
  const C = table.columns.length;
  const g = groupBy === undefined ? -1 : columnIndex(table, groupBy, "grouping column");
  const groups = new Map<number | null, number[]>();
  for (let r = 0; r < table.rows; r++) {
    const key = g < 0 ? null : table.values[r * C + g]!;
    let list = groups.get(key);
    if (!list) groups.set(key, (list = []));
    for (const j of idx) list.push(table.values[r * C + j]!);
  }
  return [...groups].map(([group, list]) => ({ group, values: Float64Array.from(list), length: list.length / idx.length }));
}
