/**
 * Hot-adding a device to a running guest whose RAM is already mapped (the classic
 * "VFIO_MAP_DMA: Invalid argument at hotplug", seed 002).
 *
 * Kernel rules:
 *   type1    `vfio_iommu_type1_attach_group` (semantics.md §2.2), first failure wins:
 *            step 2  group already in the container → EINVAL;
 *            step 7  `vfio_iommu_aper_conflict`: the new domain's aperture is disjoint from the
 *                    current valid list, or an existing mapping lies outside it → EINVAL;
 *            step 9  `vfio_iommu_resv_conflict`: a non-relaxable reserved region of the GROUP
 *                    overlaps an existing mapping → EINVAL;
 *            step 10 nothing usable left → EINVAL; step 12 MSI not isolated → EPERM.
 *   iommufd  device attach (§2.7, §2.9, §3 row 4): the DEVICE's own non-relaxable regions are
 *            reserved first, then a new domain reserves what lies outside its aperture; either
 *            one meeting an existing area → EADDRINUSE (at GET_DEVICE_FD for the compat path).
 */

import { complement, intersect, rangesOverlap, type IovaRange } from "../ranges.js";
import type { Host, ReservedRegion } from "../topology/types.js";
import { groupReservedForType1, usableRanges, type UsableResult } from "../topology/usable.js";
import { PlanInputError, type HotplugCheck, type HotplugConflict, type RamRegion } from "./types.js";

function overlapOf(a: IovaRange, b: IovaRange): IovaRange | null {
  return intersect([a], [b])[0] ?? null;
}

function apertureConflicts(mappings: readonly RamRegion[], aperture: IovaRange, iommu: string) {
  const out: HotplugConflict[] = [];
  for (const m of mappings) {
    for (const outside of complement([aperture])) {
      const overlap = overlapOf(outside, m);
      if (overlap) out.push({ kind: "aperture", mapping: m, range: aperture, iommu, overlap });
    }
  }
  return out;
}

function reservedConflicts(mappings: readonly RamRegion[], regions: readonly ReservedRegion[]) {
  const out: HotplugConflict[] = [];
  for (const region of regions) {
    for (const m of mappings) {
      if (rangesOverlap(region, m)) {
        out.push({ kind: "reserved", mapping: m, range: region, region, overlap: overlapOf(region, m) });
      }
    }
  }
  return out;
}

export interface HotplugInput {
  readonly host: Host;
  /** The context as it is: groups attached and their usable list. */
  readonly base: UsableResult;
  /** The guest RAM already mapped at IOVA = GPA. */
  readonly mappings: readonly RamRegion[];
  readonly bdf: string;
}

export function checkHotplug(inp: HotplugInput): HotplugCheck {
  const { host, base, mappings, bdf } = inp;
  const dev = host.devices.find((d) => d.bdf === bdf);
  if (!dev) throw new PlanInputError(`--hotplug: no device ${bdf} on ${host.name}`);
  if (dev.group === null) throw new PlanInputError(`--hotplug: device ${bdf} has no IOMMU group`);
  if (base.groups.includes(dev.group)) {
    throw new PlanInputError(
      `--hotplug: ${bdf} is in group ${dev.group}, which the plan already uses (type1 answers EINVAL for a group already in the container); name a device of another group`,
    );
  }
  const group = host.groups.find((g) => g.id === dev.group)!;
  const added = usableRanges(host, { groups: [group.id] });
  const aperture = added.aperture;
  const iommu = added.iommus.join("+") || "(unknown IOMMU)";
  const notes: string[] = [...added.notes];

  // type1: aperture (step 7) before reserved regions (step 9); both EINVAL.
  const apConf = aperture ? apertureConflicts(mappings, aperture, iommu) : [];
  const span =
    base.ranges.length > 0 ? { start: base.ranges[0]!.start, last: base.ranges.at(-1)!.last } : null;
  const disjoint = aperture !== null && span !== null && !rangesOverlap(aperture, span);
  const resv1 = reservedConflicts(mappings, groupReservedForType1(group));
  const after = usableRanges(host, { groups: [...base.groups, group.id] });
  let where: string | null = null;
  if (disjoint || apConf.length > 0)
    where = "SET_CONTAINER/SET_IOMMU: aperture conflict (vfio_iommu_aper_conflict)";
  else if (resv1.length > 0)
    where = "SET_CONTAINER/SET_IOMMU: reserved-region conflict (vfio_iommu_resv_conflict)";
  else if (after.ranges.length === 0) where = "SET_CONTAINER/SET_IOMMU: no usable IOVA left";
  const type1Conflicts = apConf.length > 0 ? apConf : resv1;

  // iommufd: the device's own regions first, then the new domain's aperture edges; EADDRINUSE.
  const own = dev.reservedRegions.filter((r) => r.type !== "direct-relaxable");
  const resvFd = reservedConflicts(mappings, own);
  const fdConflicts = resvFd.length > 0 ? resvFd : apConf;
  const fdWhere =
    resvFd.length > 0
      ? "device attach: device reserved region meets an area (iopt_table_enforce_dev_resv_regions)"
      : apConf.length > 0
        ? "device attach: new domain's aperture excludes an area (iopt_table_add_domain)"
        : null;

  for (const u of host.iommus) {
    if (added.iommus.includes(u.name) && !u.msiIsolation && !host.params.type1.allowUnsafeInterrupts) {
      notes.push(
        `${u.name} does not isolate MSIs: after the memory checks type1 refuses the group with EPERM unless vfio_iommu_type1.allow_unsafe_interrupts=1 (iommufd: iommufd.allow_unsafe_interrupts=1)`,
      );
    }
  }

  return {
    device: bdf,
    group: group.id,
    iommus: added.iommus,
    aperture,
    type1: {
      accepted: where === null,
      errno: where === null ? null : "EINVAL",
      where,
      conflicts: type1Conflicts,
    },
    iommufd: {
      accepted: fdWhere === null,
      errno: fdWhere === null ? null : "EADDRINUSE",
      where: fdWhere,
      conflicts: fdConflicts,
    },
    usableAfter: where === null ? after.ranges : [],
    notes,
  };
}
