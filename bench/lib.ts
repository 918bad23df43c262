/** Shared benchmark plumbing: rows, timing, heap measurement, the anchor's xorshift generator. */

import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface Row {
  workload: string;
  impl: string;
  n: number;
  pairs_per_s?: number;
  ops_per_s?: number;
  ns_per_op: number;
  bytes_per_mapping?: number;
  /** Median over interleaved rounds of this implementation's pairs/s over the C anchor's. */
  ratio_to_c?: number;
  note?: string;
}

export interface BenchContext {
  /** Smaller sizes for a quick run (`--quick`). */
  readonly quick: boolean;
  readonly log: (line: string) => void;
}

export type Bench = (ctx: BenchContext) => Promise<Row[]> | Row[];

export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * Bytes in use after a full GC: the JS heap plus ArrayBuffer backing stores (typed arrays keep their
 * bytes outside the heap; leaving them out would undercount a structure built on typed arrays).
 */
export function heapUsed(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

export function now(): number {
  return performance.now();
}

/** The median (upper median for an even count) of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** xorshift64* as in the C anchor, so the same IOVA order is used. */
export function xorshift(seed = 0x9e3779b97f4a7c15n): () => bigint {
  const M = (1n << 64n) - 1n;
  let s = seed;
  return () => {
    s ^= s >> 12n;
    s ^= (s << 25n) & M;
    s ^= s >> 27n;
    return (s * 2685821657736338717n) & M;
  };
}

/** The anchor's index set: even page numbers 0, 2, 4, … (never adjacent), shuffled. */
export function shuffledEvenPages(n: number, rnd = xorshift()): number[] {
  const idx: number[] = [];
  for (let i = 0; i < n; i++) idx.push(i * 2);
  shuffle(idx, rnd);
  return idx;
}

/**
 * The keys of the unmap phase: the map phase's keys shuffled again in place (the anchor's second
 * shuffle), then `key` of each made in that order, before the timing starts — fresh BigInts laid out
 * in the order they are read (`key` must allocate: `k + 0n` does, `BigInt.asUintN` may not). Reading
 * the map phase's BigInts in shuffled order would chase a pointer to a random heap address per
 * operation, a cache and TLB miss the C anchor, reading its u64 keys from one array, does not pay
 * (~0.35 µs per unmap at 10^6). The map keys stay referenced until here, so the heap measured after
 * the map phase still holds them, as the one before it did.
 */
export function unmapKeys(mapKeys: bigint[], rnd: () => bigint, key: (k: bigint) => bigint): bigint[] {
  shuffle(mapKeys, rnd);
  return mapKeys.map(key);
}

export function shuffle<T>(a: T[], rnd: () => bigint): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Number(rnd() % BigInt(i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

export function machine(): string {
  return `node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
}

/**
 * The repository root (the folder holding package.json): the benchmarks run compiled from
 * build-bench/, so paths to ../shared are taken from here, not from the running file.
 */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "package.json"))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error("bench: no package.json above the benchmark files");
    dir = up;
  }
  return dir;
}
