/**
 * Scales from IOVA to a fraction of the drawing width, over a window [start, last].
 *
 * The 64-bit space is too large for a linear axis: a 1 MiB MSI window is 2^-44 of it. The segment
 * scale cuts the window at every interesting boundary (region edges, aperture ends, mapping edges)
 * and gives each segment a slot of weight `1 + log2(length) / 6`: every segment is visible (weight
 * at least 1), larger segments are wider, and inside a segment the scale is linear, so it stays
 * monotonic and invertible. The linear scale is the plain zoom axis. Both are piecewise-linear
 * (`breaks` → `offsets`) and serialise to `ViewScale`.
 *
 * Terms: `last` is inclusive; a scale's last break is the window's `last + 1` (up to 2^64).
 */

import { hex, parseHex } from "./format.js";
import type { ViewScale } from "./types.js";

export const SPACE_END = 1n << 64n;

export interface Window {
  readonly start: bigint;
  readonly last: bigint;
}

export const FULL_WINDOW: Window = Object.freeze({ start: 0n, last: SPACE_END - 1n });

export interface Scale {
  readonly kind: "segments" | "linear";
  /** Strictly increasing; breaks[0] = window start, last break = window last + 1. */
  readonly breaks: readonly bigint[];
  /** Non-decreasing fractions, offsets[0] = 0, last = 1. */
  readonly offsets: readonly number[];
}

function checkWindow(w: Window): void {
  if (w.start < 0n || w.last >= SPACE_END || w.start > w.last) {
    throw new RangeError(`invalid window [${hex(w.start)}, ${hex(w.last)}]`);
  }
}

/** Weight of a segment of `length` bytes: at least 1, growing with log2 of the length. */
export function segmentWeight(length: bigint): number {
  return 1 + Math.log2(Number(length)) / 6;
}

export function segmentScale(points: readonly bigint[], window: Window = FULL_WINDOW): Scale {
  checkWindow(window);
  const end = window.last + 1n;
  const inside = [...new Set(points.filter((p) => p > window.start && p < end))].sort((a, b) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const breaks = [window.start, ...inside, end];
  const weights = breaks.slice(1).map((b, i) => segmentWeight(b - breaks[i]!));
  const total = weights.reduce((a, b) => a + b, 0);
  const offsets = [0];
  let acc = 0;
  for (const w of weights) {
    acc += w;
    offsets.push(acc / total);
  }
  offsets[offsets.length - 1] = 1;
  return { kind: "segments", breaks, offsets };
}

export function linearScale(window: Window = FULL_WINDOW): Scale {
  checkWindow(window);
  return { kind: "linear", breaks: [window.start, window.last + 1n], offsets: [0, 1] };
}

/** Index i of the segment [breaks[i], breaks[i+1]) holding addr (addr inside the window). */
function segmentOf(scale: Scale, addr: bigint): number {
  let lo = 0;
  let hi = scale.breaks.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (scale.breaks[mid]! <= addr) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Fraction in [0, 1] of `addr` (which may be one past the window, e.g. an item's last + 1); clamped. */
export function position(scale: Scale, addr: bigint): number {
  const first = scale.breaks[0]!;
  const end = scale.breaks[scale.breaks.length - 1]!;
  if (addr <= first) return 0;
  if (addr >= end) return 1;
  const i = segmentOf(scale, addr);
  const b0 = scale.breaks[i]!;
  const b1 = scale.breaks[i + 1]!;
  const o0 = scale.offsets[i]!;
  const o1 = scale.offsets[i + 1]!;
  return o0 + ((o1 - o0) * Number(addr - b0)) / Number(b1 - b0);
}

/** The address at fraction x (clamped to the window). Inverse of `position` up to rounding. */
export function invert(scale: Scale, x: number): bigint {
  const n = scale.breaks.length - 1;
  let i = 0;
  while (i < n - 1 && scale.offsets[i + 1]! <= x) i++;
  const b0 = scale.breaks[i]!;
  const b1 = scale.breaks[i + 1]!;
  const o0 = scale.offsets[i]!;
  const o1 = scale.offsets[i + 1]!;
  const f = o1 > o0 ? Math.min(1, Math.max(0, (x - o0) / (o1 - o0))) : 0;
  const addr = b0 + BigInt(Math.floor(f * Number(b1 - b0)));
  return addr >= b1 ? b1 - 1n : addr;
}

export function serializeScale(scale: Scale): ViewScale {
  return { kind: scale.kind, breaks: scale.breaks.map(hex), offsets: [...scale.offsets] };
}

export function parseScale(v: ViewScale): Scale {
  return { kind: v.kind, breaks: v.breaks.map(parseHex), offsets: [...v.offsets] };
}

export function scaleWindow(scale: Scale): Window {
  return { start: scale.breaks[0]!, last: scale.breaks[scale.breaks.length - 1]! - 1n };
}
