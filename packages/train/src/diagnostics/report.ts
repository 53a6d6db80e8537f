/**
 * Diagnostics as plain data for plots: rows of numbers become CSV or JSON without any charting
 * dependency. The CLI and the playground draw them.
 */
export type Row = Readonly<Record<string, number | string>>;

/** CSV with a header from the union of the rows' keys (in first-seen order). */
export function toCSV(rows: readonly Row[]): string {
  const columns: string[] = [];
  for (const row of rows) for (const k of Object.keys(row)) if (!columns.includes(k)) columns.push(k);
  const cell = (v: number | string | undefined): string => {
    if (v === undefined) return "";
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return [columns.join(","), ...rows.map((r) => columns.map((c) => cell(r[c])).join(","))].join("\n") + "\n";
}

/** The per-step curves of `gradientFlow`/`jacobianNorms` as rows `{ step, ...series }`. */
export function seriesRows(series: Readonly<Record<string, readonly number[]>>): Row[] {
  const length = Math.max(0, ...Object.values(series).map((s) => s.length));
  return Array.from({ length }, (_, k) => {
    const row: Record<string, number> = { step: k };
    for (const [name, values] of Object.entries(series)) if (k < values.length) row[name] = values[k]!;
    return row;
  });
}
