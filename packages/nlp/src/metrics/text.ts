// String helpers that behave like Python's `str` methods, because sacreBLEU's numbers depend on them:
// what counts as whitespace when it splits words, and what a "character" is in chrF.

/**
 * The code units Python's `str.isspace()` accepts (Python 3.11). JavaScript's `\s` differs: it also
 * has U+FEFF (byte order mark) but lacks U+001C..U+001F and U+0085 (next line), so a text holding one
 * of those would split into other words here than in sacreBLEU. All of them are in the BMP, so one
 * code unit each.
 */
const PY_SPACE_CLASS = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_SPACE_RUN = new RegExp(`[${PY_SPACE_CLASS}]+`, "u");
const PY_SPACE_ONE = new RegExp(`^[${PY_SPACE_CLASS}]$`, "u");

/** Whether the code unit at `i` is Python whitespace. */
function isPySpaceAt(s: string, i: number): boolean {
  return PY_SPACE_ONE.test(s.charAt(i));
}

/** Python's `s.split()`: the non-empty runs between whitespace runs. */
export function pySplit(s: string): string[] {
  return s.split(PY_SPACE_RUN).filter((w) => w !== "");
}

/** Python's `s.rstrip()`: `s` without trailing whitespace (a loop, so no regex backtracking on long runs). */
export function pyRstrip(s: string): string {
  let end = s.length;
  while (end > 0 && isPySpaceAt(s, end - 1)) end--;
  return s.slice(0, end);
}

/** Python's `"".join(s.split())`: `s` with every whitespace character removed. */
export function removePyWhitespace(s: string): string {
  return pySplit(s).join("");
}

/**
 * The code points of `s` as strings, the unit Python indexes a `str` by (so "😀" is one character
 * of a chrF n-gram, not two surrogates). A lone surrogate is one element, as in Python.
 */
export function codePoints(s: string): string[] {
  return Array.from(s);
}

/** Python's `f"{x:.2f}"`: like `toFixed(2)`, except that exact ties round to even (0.125 -> "0.12"). */
export function formatFixed2(x: number): string {
  // A double is a dyadic rational, so it lies exactly halfway between two hundredths only when it is
  // an odd multiple of 1/8; then x * 100 is exact and Python picks the even neighbour.
  const eighths = x * 8;
  if (Number.isInteger(eighths) && eighths % 2 !== 0) {
    const low = Math.floor(x * 100);
    const even = low % 2 === 0 ? low : low + 1;
    return (even / 100).toFixed(2);
  }
  return x.toFixed(2);
}
