/**
 * Checking RAM regions against type1's valid-IOVA list, IOVA = GPA.
 *
 * Kernel rule (vfio_iommu_type1.c `vfio_iommu_iova_dma_valid`, semantics.md §1.2 MAP_DMA step 11
 * and §2.1): a mapping is accepted only when ONE valid range contains all of it; otherwise MAP_DMA
 * answers EINVAL. Step 6: iova and size must be multiples of the context's smallest page (EINVAL).
 * iommufd's IOAS_MAP refuses an area intersecting a reservation (domain aperture edges or device
 * regions) with EINVAL too (§2.5). The gaps and their causes come from `usableRanges` — never
 * recomputed here.
 */

import {
  complement,
  containsRange,
  intersect,
  rangeLength,
  rangesOverlap,
  type IovaRange,
} from "../ranges.js";
import type { Host } from "../topology/types.js";
import type { UsableResult } from "../topology/usable.js";
import type { ApertureTooSmall, Conflict, RamRegion, RegionCheck } from "./types.js";

function overlapOf(a: IovaRange, b: IovaRange): IovaRange | null {
  return intersect([a], [b])[0] ?? null;
}

/**
 * The context's mapping granule: lowest bit of the AND of the domains' page-size bitmaps, never
 * below the CPU page (`vfio_update_pgsize_bitmap` hides sub-page IOMMU pages).
 */
export function mappingAlignment(host: Host, iommus: readonly string[]): bigint {
  let bitmap = -1n;
  for (const u of host.iommus) if (iommus.includes(u.name)) bitmap &= u.pgsizeBitmap;
  const low = bitmap === -1n || bitmap === 0n ? host.params.pageSize : bitmap & -bitmap;
  return low < host.params.pageSize ? host.params.pageSize : low;
}

/** Why `r` is not inside one usable range: every reserved region and aperture edge it touches. */
export function conflictsOf(r: IovaRange, u: UsableResult): Conflict[] {
  const out: Conflict[] = [];
  const seen = new Set<string>();
  for (const gap of u.gaps) {
    if (!rangesOverlap(gap, r)) continue;
    for (const why of gap.reasons) {
      if (why.kind === "reserved") {
        const overlap = overlapOf(why.region, r);
        const key = `r:${why.group}:${why.region.start}:${why.region.last}:${why.region.type}`;
        if (overlap && !seen.has(key)) {
          seen.add(key);
          out.push({ kind: "reserved", group: why.group, devices: why.devices, region: why.region, overlap });
        }
      } else {
        for (const outside of complement([why.aperture])) {
          const overlap = overlapOf(outside, r);
          const key = `a:${why.iommu}:${outside.start}`;
          if (overlap && !seen.has(key)) {
            seen.add(key);
            out.push({ kind: "aperture", iommu: why.iommu, aperture: why.aperture, overlap });
          }
        }
      }
    }
  }
  return out;
}

export function checkRegion(r: RamRegion, u: UsableResult, alignment: bigint): RegionCheck {
  const size = rangeLength(r);
  const conflicts = conflictsOf(r, u);
  if (r.start % alignment !== 0n || size % alignment !== 0n) conflicts.push({ kind: "alignment", alignment });
  const fits = containsRange(u.ranges, r.start, r.last);
  const mappable = fits && conflicts.length === 0;
  const within = mappable ? (u.ranges.find((x) => x.start <= r.start && r.last <= x.last) ?? null) : null;
  return { ...r, size, mappable, within, conflicts, errno: mappable ? null : "EINVAL" };
}

function bitsFor(last: bigint): number {
  let bits = 0;
  while (last >> BigInt(bits) > 0n) bits++;
  return bits;
}

/** RAM reaching past the end of the IOMMU aperture: no placement below it can hold the whole guest. */
export function apertureTooSmall(checks: readonly RegionCheck[], u: UsableResult): ApertureTooSmall | null {
  if (!u.aperture || checks.length === 0) return null;
  const apertureLast = u.aperture.last;
  const beyond = checks.flatMap((c) =>
    c.conflicts.filter((x) => x.kind === "aperture" && x.overlap.start > apertureLast),
  );
  if (beyond.length === 0) return null;
  const ramLast = checks.reduce((m, c) => (c.last > m ? c.last : m), 0n);
  const iommus = [...new Set(beyond.map((x) => (x.kind === "aperture" ? x.iommu : "")))];
  return { iommus, apertureLast, ramLast, bitsNeeded: bitsFor(ramLast) };
}
