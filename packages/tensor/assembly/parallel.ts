// Matrix products split across threads. In the threaded build (`--enable threads`, one shared
// memory imported by several instances) the host starts workers that each instantiate this module
// and park in `workerLoop`; the main instance's `gemm` hands each ready worker a slice of the
// output columns (or rows) and computes the first slice itself. Then it takes back every job no
// worker has claimed yet (a worker descheduled by a busy machine must not stall the product) and
// waits for the claimed ones. In the single-threaded build `ASC_FEATURE_THREADS` is false and
// `gemm` is `gemmSerial`.
//
// A worker's control slot (SLOT_BYTES at CONTROL + thread * SLOT_BYTES, see scratch.ts):
//   +0  request: a sequence number the main instance bumps to wake the worker
//   +4  the job: 12 i32 (transA, transB, M, N, K, a, lda, b, ldb, c, ldc, accumulate) for a
//       product; for a task (conv.ts), 3 i32 (geometry block, first unit, end unit)
//   +52 kind: 0 a product, else the task kind (conv.ts's TASK_*)
//   +64 state: IDLE, POSTED (by main), CLAIMED (by the worker, which sets IDLE when done); main
//       takes a POSTED job back with a compare-exchange to IDLE and runs it itself
//   +68 ready: 1 once the worker is in its loop; jobs go only to ready workers
//   +72 jobs: how many jobs the worker has run (for tests and diagnostics)
// Plain stores of the job happen before the atomic store of POSTED, and the worker's result
// before its atomic store of IDLE: the sequentially consistent atomics order them.

import { convTask } from "./conv";
import { gemmSerial } from "./gemm";
import { MR, NR } from "./gemm-params";
import { CONTROL, MAX_THREADS, SLOT_BYTES, useScratch } from "./scratch";

const REQUEST: usize = 0;
const JOB: usize = 4;
const STATE: usize = 64;
const IDLE: i32 = 0;
const POSTED: i32 = 1;
const CLAIMED: i32 = 2;
const READY: usize = 68;
const JOBS: usize = 72;
const KIND: usize = 52;

/** Multiply-adds below which a product stays on one thread (waking a worker costs microseconds). */
const MIN_WORK: i64 = 1 << 18;
/** Polls of the request word before a worker sleeps; consecutive products in a scan arrive sooner. */
const SPIN: i32 = 1 << 16;

let workers: i32 = 0;
let sequence: i32 = 0;

@inline function slot(thread: i32): usize {
  return CONTROL + <usize>thread * SLOT_BYTES;
}

/** Called on the main instance: the number of worker threads (1 .. MAX_THREADS-1) it may use. */
export function setWorkers(count: i32): void {
  workers = ASC_FEATURE_THREADS ? max(0, min(count, MAX_THREADS - 1)) : 0;
}

/** Run by worker `thread` (1 .. MAX_THREADS-1) on its own instance; never returns. */
export function workerLoop(thread: i32): void {
  if (!ASC_FEATURE_THREADS || thread < 1 || thread >= MAX_THREADS) return;
  useScratch(thread);
  const s = slot(thread);
  let seen = atomic.load<i32>(s, REQUEST);
  atomic.store<i32>(s, 1, READY);
  while (true) {
    let request = atomic.load<i32>(s, REQUEST);
    for (let spins = 0; request == seen; spins++) {
      if (spins >= SPIN) memory.atomic.wait32(s + REQUEST, seen, -1);
      request = atomic.load<i32>(s, REQUEST);
    }
    seen = request;
    // The address as base + constant offset: under Node 20 (V8 11.3), a compare-exchange on a
    // precomputed address (s + STATE held in a local) read 0 while the word held POSTED.
    if (atomic.cmpxchg<i32>(s, POSTED, CLAIMED, STATE) != POSTED) continue; // main took it back
    runJob(s + JOB);
    atomic.add<i32>(s, 1, JOBS);
    atomic.store<i32>(s, IDLE, STATE);
  }
}

@inline function runJob(j: usize): void {
  const kind = load<i32>(j, <usize>(KIND - JOB));
  if (kind != 0) {
    convTask(kind, <usize>load<u32>(j), load<i32>(j, 4), load<i32>(j, 8));
    return;
  }
  gemmSerial(
    load<i32>(j) != 0, load<i32>(j, 4) != 0, load<i32>(j, 8), load<i32>(j, 12), load<i32>(j, 16),
    <usize>load<u32>(j, 20), load<i32>(j, 24), <usize>load<u32>(j, 28), load<i32>(j, 32),
    <usize>load<u32>(j, 36), load<i32>(j, 40), load<i32>(j, 44) != 0,
  );
}

function post(
  thread: i32, transA: bool, transB: bool, M: i32, N: i32, K: i32,
  a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, accumulate: bool,
): void {
  const j = slot(thread) + JOB;
  store<i32>(j, transA ? 1 : 0);
  store<i32>(j, transB ? 1 : 0, 4);
  store<i32>(j, M, 8);
  store<i32>(j, N, 12);
  store<i32>(j, K, 16);
  store<u32>(j, <u32>a, 20);
  store<i32>(j, lda, 24);
  store<u32>(j, <u32>b, 28);
  store<i32>(j, ldb, 32);
  store<u32>(j, <u32>c, 36);
  store<i32>(j, ldc, 40);
  store<i32>(j, accumulate ? 1 : 0, 44);
  store<i32>(j, 0, <usize>(KIND - JOB));
  atomic.store<i32>(slot(thread), POSTED, STATE);
  atomic.store<i32>(slot(thread), sequence, REQUEST);
  atomic.notify(slot(thread) + REQUEST, 1);
}

/**
 * `C = op(A)·op(B)` (`+ C` when `accumulate`), row-major f32 (see gemmSerial in gemm.ts). Large
 * products are split into contiguous column slices (row slices when C is narrow) over this thread
 * and the ready workers; each slice is an independent serial product, so results are bitwise
 * identical to the single-threaded ones.
 */
export function gemm(
  transA: bool, transB: bool, M: i32, N: i32, K: i32,
  a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, accumulate: bool,
): void {
  if (!ASC_FEATURE_THREADS || workers == 0 || <i64>M * <i64>N * <i64>K < MIN_WORK) {
    gemmSerial(transA, transB, M, N, K, a, lda, b, ldb, c, ldc, accumulate);
    return;
  }
  let ready: u32 = 0; // bit w: worker w takes a slice
  let parts = 1;
  for (let w = 1; w <= workers; w++) {
    if (atomic.load<i32>(slot(w), READY) == 1) {
      ready |= 1 << w;
      parts++;
    }
  }
  const byColumns = N >= parts * 4 * NR;
  if (parts == 1 || (!byColumns && M < parts * 4 * MR)) {
    gemmSerial(transA, transB, M, N, K, a, lda, b, ldb, c, ldc, accumulate);
    return;
  }
  sequence = sequence == 0x7fffffff ? 1 : sequence + 1;
  const extent = byColumns ? N : M;
  const unit = byColumns ? NR : MR;
  const chunk = (((extent + parts - 1) / parts + unit - 1) / unit) * unit;
  for (let w = 1, start = chunk; w <= workers; w++) {
    if ((ready & (1 << w)) == 0) continue;
    const n = min(chunk, extent - start);
    if (n > 0) {
      if (byColumns) {
        // Columns [start, start+n) of C come from columns of op(B): rows of B when transposed.
        const bAt = transB ? b + (<usize>(start * ldb) << 2) : b + (<usize>start << 2);
        post(w, transA, transB, M, n, K, a, lda, bAt, ldb, c + (<usize>start << 2), ldc, accumulate);
      } else {
        const aAt = transA ? a + (<usize>start << 2) : a + (<usize>(start * lda) << 2);
        post(w, transA, transB, n, N, K, aAt, lda, b, ldb, c + (<usize>(start * ldc) << 2), ldc, accumulate);
      }
    } else {
      ready &= ~(1 << w); // nothing left for this worker
    }
    start += chunk;
  }
  const first = min(chunk, extent);
  if (byColumns) gemmSerial(transA, transB, M, first, K, a, lda, b, ldb, c, ldc, accumulate);
  else gemmSerial(transA, transB, first, N, K, a, lda, b, ldb, c, ldc, accumulate);
  for (let w = 1; w <= workers; w++) {
    if ((ready & (1 << w)) == 0) continue;
    const s = slot(w);
    if (atomic.cmpxchg<i32>(s, POSTED, IDLE, STATE) == POSTED) runJob(s + JOB);
    else while (atomic.load<i32>(s, STATE) != IDLE) {} // claimed: a slice as large as ours, a short spin
  }
}

/** How many workers are in their loop (the host waits for them after starting them). */
export function readyWorkers(): i32 {
  if (!ASC_FEATURE_THREADS) return 0;
  let n = 0;
  for (let w = 1; w < MAX_THREADS; w++) n += atomic.load<i32>(slot(w), READY);
  return n;
}

/** Jobs the workers have run since they started. */
export function workerJobs(): f64 {
  if (!ASC_FEATURE_THREADS) return 0;
  let n: f64 = 0;
  for (let w = 1; w < MAX_THREADS; w++) n += <f64>atomic.load<i32>(slot(w), JOBS);
  return n;
}

function postTask(thread: i32, kind: i32, geom: usize, lo: i32, hi: i32): void {
  const j = slot(thread) + JOB;
  store<u32>(j, <u32>geom);
  store<i32>(j, lo, 4);
  store<i32>(j, hi, 8);
  store<i32>(j, kind, <usize>(KIND - JOB));
  atomic.store<i32>(slot(thread), POSTED, STATE);
  atomic.store<i32>(slot(thread), sequence, REQUEST);
  atomic.notify(slot(thread) + REQUEST, 1);
}

/**
 * Runs units [0, units) of task `kind` (conv.ts's `convTask`, on the geometry block `geom`) split
 * into contiguous ranges over this thread and the ready workers, as `gemm` splits a product; a
 * task whose `work` (multiply-adds) is below MIN_WORK runs here alone. Each unit's result must not
 * depend on which thread runs it (conv.ts's tasks are written so).
 */
export function parallelFor(kind: i32, geom: usize, units: i32, work: i64): void {
  if (!ASC_FEATURE_THREADS || workers == 0 || work < MIN_WORK || units < 2) {
    convTask(kind, geom, 0, units);
    return;
  }
  let ready: u32 = 0;
  let parts = 1;
  for (let w = 1; w <= workers; w++) {
    if (atomic.load<i32>(slot(w), READY) == 1) {
      ready |= 1 << w;
      parts++;
    }
  }
  if (parts == 1) {
    convTask(kind, geom, 0, units);
    return;
  }
  sequence = sequence == 0x7fffffff ? 1 : sequence + 1;
  const chunk = (units + parts - 1) / parts;
  for (let w = 1, start = chunk; w <= workers; w++) {
    if ((ready & (1 << w)) == 0) continue;
    const n = min(chunk, units - start);
    if (n > 0) postTask(w, kind, geom, start, start + n);
    else ready &= ~(1 << w);
    start += chunk;
  }
  convTask(kind, geom, 0, min(chunk, units));
  for (let w = 1; w <= workers; w++) {
    if ((ready & (1 << w)) == 0) continue;
    const s = slot(w);
    if (atomic.cmpxchg<i32>(s, POSTED, IDLE, STATE) == POSTED) runJob(s + JOB);
    else while (atomic.load<i32>(s, STATE) != IDLE) {}
  }
}
