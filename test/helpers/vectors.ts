/** The reference vectors' sysfs dumps and what their traces recorded, for host tests. */

import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { IovaRange } from "../../src/core/ranges.js";
import type { RunJson } from "../../src/host/sysfs-dump.js";

/** ../shared/vectors beside the repository (wherever it is checked out, as in CI). */
export const VECTORS = resolve(dirname(fileURLToPath(import.meta.url)), "../../../shared/vectors");

export interface DumpCase {
  /** Path relative to VECTORS. */
  readonly name: string;
  readonly text: string;
  readonly run: RunJson | undefined;
  /** The run's trace, when there is one. */
  readonly trace: string | undefined;
}

export function dumpCases(): DumpCase[] {
  const out: DumpCase[] = [];
  const add = (rel: string) => {
    const base = join(VECTORS, rel.replace(/-sysfs\.txt$/, ""));
    const run = existsSync(base + "-run.json")
      ? (JSON.parse(readFileSync(base + "-run.json", "utf8")) as RunJson)
      : undefined;
    const trace = existsSync(base + ".jsonl") ? base + ".jsonl" : undefined;
    out.push({ name: rel, text: readFileSync(join(VECTORS, rel), "utf8"), run, trace });
  };
  for (const entry of readdirSync(VECTORS).sort()) {
    if (entry.endsWith("-sysfs.txt")) add(entry);
    else if (statSync(join(VECTORS, entry)).isDirectory()) {
      for (const f of readdirSync(join(VECTORS, entry)).sort())
        if (f.endsWith("-sysfs.txt")) add(`${entry}/${f}`);
    }
  }
  return out;
}

interface Rec {
  op?: string;
  case?: string;
  out?: {
    caps?: { name?: string; iova_ranges?: { start: string; end: string }[] }[];
    ranges?: { start: string; last: string }[];
  };
}

/**
 * Distinct IOVA_RANGE lists the kernel reported in VFIO_IOMMU_GET_INFO, as JSON strings of
 * inclusive hex ranges. The compat path reports [0, 2^64-1] before any device is attached.
 * Native runs without GET_INFO contribute IOMMU_IOAS_IOVA_RANGES of their `setup` case (devices
 * attached, nothing else restricting the IOAS).
 */
export function tracedIovaRanges(trace: string): Set<string> {
  const lists = new Set<string>();
  for (const line of readFileSync(trace, "utf8").split("\n")) {
    if (!line.includes('"iova_ranges"') && !line.includes("IOMMU_IOAS_IOVA_RANGES")) continue;
    const rec = JSON.parse(line) as Rec;
    if (rec.op === "IOMMU_IOAS_IOVA_RANGES" && rec.case === "setup" && rec.out?.ranges) {
      lists.add(JSON.stringify(rec.out.ranges.map((r) => [r.start, r.last])));
    }
    if (rec.op !== "VFIO_IOMMU_GET_INFO") continue;
    for (const cap of rec.out?.caps ?? []) {
      if (cap.iova_ranges) lists.add(JSON.stringify(cap.iova_ranges.map((r) => [r.start, r.end])));
    }
  }
  return lists;
}

export function rangesKey(ranges: readonly IovaRange[]): string {
  return JSON.stringify(ranges.map((r) => ["0x" + r.start.toString(16), "0x" + r.last.toString(16)]));
}
