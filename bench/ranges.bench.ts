/**
 * Range algebra: normalise 100k random inclusive ranges (sort + merge), the step that turns
 * per-device reserved lists into one list (semantics.md §2.14), then type1's usable-range
 * computation over a group with those regions.
 */

import { normalize, subtract, type IovaRange } from "../src/core/ranges.js";
import { now, xorshift, type Bench, type Row } from "./lib.js";

/** `n` random ranges in the 48-bit space, lengths up to 1 MiB, from a fixed seed. */
export function randomRanges(n: number, seed = 0x2545f4914f6cdd1dn): IovaRange[] {
  const rnd = xorshift(seed);
  const out: IovaRange[] = [];
  for (let i = 0; i < n; i++) {
    const start = rnd() & ((1n << 48n) - 1n);
    out.push({ start, last: start + (rnd() & 0xfffffn) });
  }
  return out;
}

/** Normalise `n` random ranges; returns the elapsed milliseconds and the merged count. */
export function normalizeRandomRanges(n = 100_000): { ms: number; merged: number } {
  const input = randomRanges(n);
  const t0 = now();
  const merged = normalize(input).length;
  return { ms: now() - t0, merged };
}

function row(workload: string, n: number, ms: number): Row {
  return {
    workload,
    impl: "ioas-ranges",
    n,
    ops_per_s: Math.round((n / ms) * 1000),
    ns_per_op: Math.round((ms * 1e6) / n),
  };
}

export const bench: Bench = ({ quick, log }) => {
  const n = quick ? 10_000 : 100_000;
  normalizeRandomRanges(1_000); // warm-up
  const norm = normalizeRandomRanges(n);
  log(`normalize ${n} ranges: ${norm.ms.toFixed(1)} ms (${norm.merged} after merge)`);
  const regions = normalize(randomRanges(n));
  const t0 = now();
  subtract([{ start: 0n, last: (1n << 48n) - 1n }], regions);
  const sub = now() - t0;
  log(`subtract ${regions.length} reserved ranges from a 48-bit aperture: ${sub.toFixed(1)} ms`);
  return [
    row("ranges_normalize_random", n, norm.ms),
    row("ranges_subtract_from_aperture", regions.length, sub),
  ];
};
