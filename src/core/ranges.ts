/**
 * IOVA range algebra over the full u64 space.
 *
 * Terms (fixed for the whole code base):
 *   start  first byte of a range (inclusive)
 *   last   last byte of a range (inclusive) — as in `struct iommu_iova_range` and the VFIO IOVA_RANGE cap
 *   end    one past the last byte (exclusive); only ever used for lengths, never stored in a range
 *
 * A *range list* is normalised when it is sorted by start and no two ranges overlap or touch
 * (`next.start > prev.last + 1`). Every function here accepts unnormalised input and returns a
 * normalised list unless it says otherwise. This is the "aggregate, sort, merge, invert" recipe that
 * turns per-device reserved lists into one allowed list. Cost: O(n log n) for normalise, linear merges
 * elsewhere.
 */

import { U64_MAX, alignUp } from "./u64.js";

export interface IovaRange {
  readonly start: bigint;
  readonly last: bigint;
}

export const FULL_SPACE: IovaRange = Object.freeze({ start: 0n, last: U64_MAX });

export function range(start: bigint, last: bigint): IovaRange {
  if (start < 0n || last > U64_MAX || start > last) {
    throw new RangeError(`invalid range [${start.toString(16)}, ${last.toString(16)}]`);
  }
  return { start, last };
}

/** Length in bytes (up to 2^64, which needs a bigint). */
export function rangeLength(r: IovaRange): bigint {
  return r.last - r.start + 1n;
}

export function totalLength(ranges: readonly IovaRange[]): bigint {
  let n = 0n;
  for (const r of ranges) n += rangeLength(r);
  return n;
}

function byStart(a: IovaRange, b: IovaRange): number {
  return a.start < b.start ? -1 : a.start > b.start ? 1 : a.last < b.last ? -1 : a.last > b.last ? 1 : 0;
}

/** Sort, then merge ranges that overlap or touch. */
export function normalize(ranges: readonly IovaRange[]): IovaRange[] {
  if (ranges.length === 0) return [];
  const sorted = [...ranges].sort(byStart);
  const out: IovaRange[] = [];
  let cur = sorted[0]!;
  for (let i = 1; i < sorted.length; i++) {
    const r = sorted[i]!;
    if (r.start <= cur.last + 1n) {
      if (r.last > cur.last) cur = { start: cur.start, last: r.last };
    } else {
      out.push(cur);
      cur = r;
    }
  }
  out.push(cur);
  return out;
}

export function isNormalized(ranges: readonly IovaRange[]): boolean {
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (r.start > r.last) return false;
    if (i > 0 && r.start <= ranges[i - 1]!.last + 1n) return false;
  }
  return true;
}

export function union(a: readonly IovaRange[], b: readonly IovaRange[]): IovaRange[] {
  return normalize([...a, ...b]);
}

export function intersect(a: readonly IovaRange[], b: readonly IovaRange[]): IovaRange[] {
  const x = normalize(a);
  const y = normalize(b);
  const out: IovaRange[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length && j < y.length) {
    const p = x[i]!;
    const q = y[j]!;
    const start = p.start > q.start ? p.start : q.start;
    const last = p.last < q.last ? p.last : q.last;
    if (start <= last) out.push({ start, last });
    if (p.last < q.last) i++;
    else j++;
  }
  return out;
}

/** Every byte of `a` that is in no range of `b`. */
export function subtract(a: readonly IovaRange[], b: readonly IovaRange[]): IovaRange[] {
  const x = normalize(a);
  const y = normalize(b);
  const out: IovaRange[] = [];
  let j = 0;
  for (const r of x) {
    let start = r.start;
    let done = false;
    while (j < y.length && y[j]!.last < start) j++;
    let k = j;
    while (k < y.length && y[k]!.start <= r.last) {
      const cut = y[k]!;
      if (cut.start > start) out.push({ start, last: cut.start - 1n });
      if (cut.last >= r.last) {
        done = true;
        break;
      }
      start = cut.last + 1n;
      k++;
    }
    if (!done) out.push({ start, last: r.last });
  }
  return out;
}

/** The holes of `ranges` inside `within` (default: the whole u64 space). */
export function complement(ranges: readonly IovaRange[], within: IovaRange = FULL_SPACE): IovaRange[] {
  return subtract([within], ranges);
}

/** Some single range of `ranges` contains all of [start, last] (type1's "fits in one valid range"). */
export function containsRange(ranges: readonly IovaRange[], start: bigint, last: bigint): boolean {
  return ranges.some((r) => r.start <= start && last <= r.last);
}

export function containsAddress(ranges: readonly IovaRange[], addr: bigint): boolean {
  return ranges.some((r) => r.start <= addr && addr <= r.last);
}

export function overlaps(ranges: readonly IovaRange[], start: bigint, last: bigint): boolean {
  return ranges.some((r) => r.start <= last && start <= r.last);
}

export function rangesOverlap(a: IovaRange, b: IovaRange): boolean {
  return a.start <= b.last && b.start <= a.last;
}

/**
 * First address ≥ each free range's start, aligned to `align`, where `length` bytes fit inside one
 * free range. `free` must be normalised. Returns undefined when nothing fits.
 */
export function firstFit(free: readonly IovaRange[], length: bigint, align: bigint = 1n): bigint | undefined {
  if (length <= 0n) return undefined;
  for (const r of free) {
    const start = alignUp(r.start, align);
    if (start > r.last) continue;
    if (r.last - start + 1n >= length) return start;
  }
  return undefined;
}

export function rangesEqual(a: readonly IovaRange[], b: readonly IovaRange[]): boolean {
  return a.length === b.length && a.every((r, i) => r.start === b[i]!.start && r.last === b[i]!.last);
}

export function formatRange(r: IovaRange): string {
  return `[0x${r.start.toString(16)}, 0x${r.last.toString(16)}]`;
}
