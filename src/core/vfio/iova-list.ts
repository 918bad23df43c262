/**
 * type1's list of valid IOVA ranges ("iova_list", semantics.md §2.1), with the kernel's exact list
 * surgery: the edge cases of `vfio_iommu_aper_resize` (a range touching the new aperture in a single
 * byte is dropped, not clipped) are part of the uAPI because GET_INFO reports the list.
 *
 * Ranges are inclusive (`start`/`last`); the list is sorted and disjoint. An empty list means "no
 * restriction" (no IOMMU domain in the context).
 */

import type { IovaRange } from "../ranges.js";
import type { ReservedRegion } from "../topology/types.js";
import { U64_MAX } from "../u64.js";

export type IovaList = readonly IovaRange[];

/** Regions that reduce the list and block mappings: everything but `direct-relaxable`. */
export function blockingRegions(regions: readonly ReservedRegion[]): ReservedRegion[] {
  return regions.filter((r) => r.type !== "direct-relaxable");
}

/** `vfio_iommu_aper_resize`: clip the list to [start, last] (or create it when empty). */
export function aperResize(list: IovaList, start: bigint, last: bigint): IovaRange[] {
  if (list.length === 0) return [{ start, last }];
  const out: IovaRange[] = [];
  let i = 0;
  // Adjust the start: drop nodes wholly before it; clip the node holding it (but a node whose last
  // byte is the new start is dropped — the kernel tests `start < node->end`).
  for (; i < list.length; i++) {
    const n = list[i]!;
    if (start < n.start) break;
    if (start < n.last) {
      out.push({ start, last: n.last });
      i++;
      break;
    }
  }
  for (; i < list.length; i++) out.push(list[i]!);
  // Adjust the end symmetrically (`end > node->start` keeps a node).
  const result: IovaRange[] = [];
  for (const n of out) {
    if (last > n.last) result.push(n);
    else if (last > n.start) result.push({ start: n.start, last });
  }
  return result;
}

/** `vfio_iommu_resv_exclude`: cut every blocking region out of the list. */
export function resvExclude(list: IovaList, regions: readonly ReservedRegion[]): IovaRange[] {
  let cur: IovaRange[] = [...list];
  for (const r of blockingRegions(regions)) {
    const next: IovaRange[] = [];
    for (const n of cur) {
      if (r.start > n.last || r.last < n.start) {
        next.push(n);
        continue;
      }
      if (r.start > n.start) next.push({ start: n.start, last: r.start - 1n });
      if (r.last < n.last) next.push({ start: r.last + 1n, last: n.last });
    }
    cur = next;
  }
  return cur;
}

/** The whole IOVA space, what `vfio_iommu_aper_expand` starts from. */
export const WHOLE_SPACE: IovaRange = { start: 0n, last: U64_MAX };

/** The one range of `list` that contains [start, last] entirely (`vfio_iommu_iova_dma_valid`). */
export function listAllows(list: IovaList, start: bigint, last: bigint): boolean {
  if (list.length === 0) return true;
  for (const n of list) if (start >= n.start && last <= n.last) return true;
  return false;
}
