/**
 * The group-wide reserved-region list, built as the kernel builds it.
 *
 * Kernel rule (drivers/iommu/iommu.c `iommu_insert_resv_region`, semantics.md §2.13): the group
 * list is the union of its devices' regions, sorted by start then by type number; regions of the
 * same type that overlap or touch are merged, regions of different types never are.
 */

import { normalize } from "../ranges.js";
import { RESERVED_TYPE_ORDER, type ReservedRegion } from "./types.js";

function typeRank(r: ReservedRegion): number {
  return RESERVED_TYPE_ORDER.indexOf(r.type);
}

export function compareRegions(a: ReservedRegion, b: ReservedRegion): number {
  if (a.start !== b.start) return a.start < b.start ? -1 : 1;
  return typeRank(a) - typeRank(b);
}

/** Union of per-device lists into the group list. `source` and `msiAmbiguous` of the first region win. */
export function mergeGroupRegions(lists: readonly (readonly ReservedRegion[])[]): ReservedRegion[] {
  const byType = new Map<ReservedRegion["type"], ReservedRegion[]>();
  for (const list of lists) {
    for (const r of list) {
      const bucket = byType.get(r.type) ?? [];
      bucket.push(r);
      byType.set(r.type, bucket);
    }
  }
  const out: ReservedRegion[] = [];
  for (const [type, regions] of byType) {
    const sorted = [...regions].sort(compareRegions);
    for (const merged of normalize(sorted)) {
      const first = sorted.find((r) => r.start === merged.start)!;
      const region: ReservedRegion = { start: merged.start, last: merged.last, type };
      out.push({
        ...region,
        ...(first.source !== undefined ? { source: first.source } : {}),
        ...(first.msiAmbiguous ? { msiAmbiguous: true } : {}),
      });
    }
  }
  return out.sort(compareRegions);
}
