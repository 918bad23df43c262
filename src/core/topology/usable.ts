/**
 * type1's list of valid IOVA ranges for a set of groups, with every gap explained.
 *
 * Kernel rule (vfio_iommu_type1.c `vfio_iommu_aper_resize` + `vfio_iommu_resv_exclude`,
 * semantics.md §2.1 and the recipe of §2.14): start from the intersection of the apertures of the
 * domains involved, then cut out the union of the groups' reserved regions — every type except
 * `direct-relaxable`, which type1 skips. Reserved regions are taken per IOMMU group, not per device.
 * An empty result is what makes the kernel's attach fail with EINVAL.
 */

import {
  FULL_SPACE,
  complement,
  intersect,
  normalize,
  rangesOverlap,
  subtract,
  type IovaRange,
} from "../ranges.js";
import type { Host, IommuGroup, IommuUnit, ReservedRegion } from "./types.js";

/** type1 ignores `direct-relaxable` regions: they neither shrink the list nor block mappings. */
export function groupReservedForType1(group: IommuGroup): ReservedRegion[] {
  return group.reservedRegions.filter((r) => r.type !== "direct-relaxable");
}

export type GapReason =
  | {
      readonly kind: "aperture";
      readonly iommu: string;
      readonly aperture: IovaRange;
    }
  | {
      readonly kind: "reserved";
      readonly group: number;
      readonly devices: readonly string[];
      readonly region: ReservedRegion;
    };

export interface Gap extends IovaRange {
  readonly reasons: readonly GapReason[];
}

export interface UsableSelection {
  readonly groups?: readonly number[];
  readonly devices?: readonly string[];
}

export interface UsableResult {
  readonly groups: readonly number[];
  readonly iommus: readonly string[];
  /** Intersection of the apertures (before reserved regions). */
  readonly aperture: IovaRange | null;
  /** type1's iova_list; empty means attach would fail with EINVAL. */
  readonly ranges: readonly IovaRange[];
  /** Every hole of `ranges` in [0, 2^64-1], with what caused it. */
  readonly gaps: readonly Gap[];
  /** direct-relaxable regions of the selected groups, which type1 ignores. */
  readonly ignored: readonly { readonly group: number; readonly region: ReservedRegion }[];
  /** Assumptions made (unit unknown, aperture assumed). */
  readonly notes: readonly string[];
}

export class UsableRangesError extends Error {
  override readonly name = "UsableRangesError";
}

/** The groups a selection names: explicit groups, plus the groups of the named devices. */
export function selectGroups(host: Host, sel: UsableSelection): number[] {
  const ids = new Set<number>();
  for (const id of sel.groups ?? []) {
    if (!host.groups.some((g) => g.id === id)) {
      const known = host.groups.map((g) => g.id).join(", ") || "none";
      throw new UsableRangesError(`no IOMMU group ${id} on ${host.name} (groups: ${known})`);
    }
    ids.add(id);
  }
  for (const bdf of sel.devices ?? []) {
    const d = host.devices.find((x) => x.bdf === bdf);
    if (!d) throw new UsableRangesError(`no device ${bdf} on ${host.name}`);
    if (d.group === null) {
      throw new UsableRangesError(
        `device ${bdf} has no IOMMU group: type1 cannot use it (only VFIO no-IOMMU mode could)`,
      );
    }
    ids.add(d.group);
  }
  if (ids.size === 0) throw new UsableRangesError("no group or device selected");
  return [...ids].sort((a, b) => a - b);
}

function unitsOf(host: Host, group: IommuGroup, notes: string[]): IommuUnit[] {
  const names = new Set<string>();
  for (const bdf of group.devices) {
    const d = host.devices.find((x) => x.bdf === bdf);
    if (d?.iommu) names.add(d.iommu);
  }
  if (names.size === 0) notes.push(`group ${group.id}: no IOMMU unit known, aperture assumed [0, 2^64-1]`);
  return host.iommus.filter((u) => names.has(u.name));
}

export function usableRanges(host: Host, sel: UsableSelection): UsableResult {
  const ids = selectGroups(host, sel);
  const groups = ids.map((id) => host.groups.find((g) => g.id === id)!);
  const notes: string[] = [];
  const units = new Map<string, IommuUnit>();
  for (const g of groups) for (const u of unitsOf(host, g, notes)) units.set(u.name, u);

  // Step 1: aperture intersection (vfio_iommu_aper_resize clips to every domain's geometry).
  let allowed: IovaRange[] = [FULL_SPACE];
  for (const u of units.values()) allowed = intersect(allowed, [u.aperture]);
  const aperture = allowed[0] ?? null;

  // Step 2: cut out every non-relaxable reserved region of every selected group.
  const cuts: { group: IommuGroup; region: ReservedRegion }[] = [];
  const ignored: { group: number; region: ReservedRegion }[] = [];
  for (const g of groups) {
    for (const r of g.reservedRegions) {
      if (r.type === "direct-relaxable") ignored.push({ group: g.id, region: r });
      else cuts.push({ group: g, region: r });
    }
  }
  const ranges = subtract(allowed, normalize(cuts.map((c) => c.region)));

  const gaps: Gap[] = complement(ranges).map((hole) => {
    const reasons: GapReason[] = [];
    for (const u of units.values()) {
      const outside = complement([u.aperture]);
      if (outside.some((o) => rangesOverlap(o, hole))) {
        reasons.push({ kind: "aperture", iommu: u.name, aperture: u.aperture });
      }
    }
    for (const c of cuts) {
      if (rangesOverlap(c.region, hole)) {
        reasons.push({ kind: "reserved", group: c.group.id, devices: c.group.devices, region: c.region });
      }
    }
    return { start: hole.start, last: hole.last, reasons };
  });

  return {
    groups: ids,
    iommus: [...units.keys()],
    aperture,
    ranges,
    gaps,
    ignored,
    notes,
  };
}
