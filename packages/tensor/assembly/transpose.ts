// Batched 2-D transposes of 32-bit elements (float32 or int32 bits alike): out[b, j, i] = x[b, i, j]
// for row-major (R, C) matrices, 4x4 blocks transposed in registers inside 64x64 tiles (both
// tiles stay in L1). The twin of the reference `transpose` for permutations that swap two blocks
// of axes after a batch prefix (a CNN's grid `[N, C, h·w]` to regions `[N, h·w, C]`).

const TILE: i32 = 64;

@inline function min(a: i32, b: i32): i32 {
  return a < b ? a : b;
}

export function transposeF32(batch: i32, R: i32, C: i32, x: usize, out: usize): void {
  const rowBytes = <usize>C << 2; // a row of x
  const colBytes = <usize>R << 2; // a row of out
  for (let b = 0; b < batch; b++) {
    const xb = x + <usize>b * <usize>R * rowBytes;
    const ob = out + <usize>b * <usize>C * colBytes;
    for (let i0 = 0; i0 < R; i0 += TILE) {
      const i1 = min(i0 + TILE, R);
      for (let j0 = 0; j0 < C; j0 += TILE) {
        const j1 = min(j0 + TILE, C);
        let i = i0;
        for (; i + 4 <= i1; i += 4) {
          const s = xb + <usize>i * rowBytes;
          let j = j0;
          for (; j + 4 <= j1; j += 4) {
            const p = s + (<usize>j << 2);
            const r0 = v128.load(p);
            const r1 = v128.load(p + rowBytes);
            const r2 = v128.load(p + 2 * rowBytes);
            const r3 = v128.load(p + 3 * rowBytes);
            const t0 = v128.shuffle<i32>(r0, r1, 0, 4, 1, 5);
            const t1 = v128.shuffle<i32>(r2, r3, 0, 4, 1, 5);
            const t2 = v128.shuffle<i32>(r0, r1, 2, 6, 3, 7);
            const t3 = v128.shuffle<i32>(r2, r3, 2, 6, 3, 7);
            const d = ob + <usize>j * colBytes + (<usize>i << 2);
            v128.store(d, v128.shuffle<i32>(t0, t1, 0, 1, 4, 5));
            v128.store(d + colBytes, v128.shuffle<i32>(t0, t1, 2, 3, 6, 7));
            v128.store(d + 2 * colBytes, v128.shuffle<i32>(t2, t3, 0, 1, 4, 5));
            v128.store(d + 3 * colBytes, v128.shuffle<i32>(t2, t3, 2, 3, 6, 7));
          }
          for (; j < j1; j++) {
            for (let r = 0; r < 4; r++) store<i32>(ob + <usize>j * colBytes + (<usize>(i + r) << 2), load<i32>(s + <usize>r * rowBytes + (<usize>j << 2)));
          }
        }
        for (; i < i1; i++) {
          const s = xb + <usize>i * rowBytes;
          for (let j = j0; j < j1; j++) store<i32>(ob + <usize>j * colBytes + (<usize>i << 2), load<i32>(s + (<usize>j << 2)));
        }
      }
    }
  }
}
