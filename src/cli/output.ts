/** Output helpers of the CLI: where text goes, tables, JSON with bigints, sizes and ranges. */

import { rangeLength, type IovaRange } from "../core/ranges.js";
import { formatSize, hex } from "../core/u64.js";
import type { ReservedRegion } from "../core/topology/types.js";

/** Where a command writes; tests pass collectors, the binary passes process streams. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: Io = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

/** JSON with bigints as "0x…" strings (the snapshot convention), two-space indented, newline-terminated. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? hex(v) : v), 2) + "\n";
}

/** Left-aligned columns separated by two spaces; no trailing blanks. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

export function rangeText(r: IovaRange): string {
  return `[${hex(r.start)}, ${hex(r.last)}]`;
}

/** A range as JSON: inclusive hex bounds plus its size in bytes (hex, since it can reach 2^64). */
export function rangeJson(r: IovaRange): { start: string; last: string; size: string } {
  return { start: hex(r.start), last: hex(r.last), size: hex(rangeLength(r)) };
}

export function rangeRow(r: IovaRange): string[] {
  return [hex(r.start), hex(r.last), formatSize(rangeLength(r))];
}

/** `msi` read from sysfs may be a hardware or a software MSI window: shown as `msi?` / `sw-msi?`. */
export function regionType(r: ReservedRegion): string {
  return r.msiAmbiguous ? `${r.type}?` : r.type;
}

export function regionJson(r: ReservedRegion): Record<string, unknown> {
  return {
    ...rangeJson(r),
    type: r.type,
    ...(r.msiAmbiguous ? { msiAmbiguous: true } : {}),
    ...(r.source !== undefined ? { source: r.source } : {}),
  };
}

/** IOMMU page-size bitmap in words: "4 KiB|2 MiB|1 GiB", "every size ≥ 4 KiB". */
export function pgsizesText(bitmap: bigint): string {
  const sizes: bigint[] = [];
  for (let b = 0n; b < 64n; b++) if (bitmap & (1n << b)) sizes.push(1n << b);
  if (sizes.length === 0) return "none";
  if (sizes.length <= 5) return sizes.map(formatSize).join("|");
  const low = sizes[0]!;
  const missing: bigint[] = [];
  for (let s = low; s < 1n << 64n; s <<= 1n) if (!(bitmap & s)) missing.push(s);
  return `every size ≥ ${formatSize(low)}${missing.length ? ` except ${missing.map(formatSize).join(", ")}` : ""}`;
}

export const yesNo = (b: boolean): string => (b ? "yes" : "no");
