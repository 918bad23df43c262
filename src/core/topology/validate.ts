/**
 * Checks that a `Host` is self-consistent, and the viability rule of VFIO groups.
 *
 * `validateHost` collects every problem and throws one `InvalidHostError` listing them, so a bad
 * snapshot or preset is fixed in one pass. It is not an errno situation, hence not an `IoasError`.
 */

import { U64_MAX } from "../u64.js";
import type { IovaRange } from "../ranges.js";
import { RESERVED_TYPE_ORDER, type Host, type ReservedRegion } from "./types.js";

export { groupReservedForType1, usableRanges, type UsableResult, type UsableSelection } from "./usable.js";

export class InvalidHostError extends Error {
  override readonly name = "InvalidHostError";
  readonly problems: readonly string[];
  constructor(hostName: string, problems: readonly string[]) {
    super(`invalid host "${hostName}":\n  - ${problems.join("\n  - ")}`);
    this.problems = problems;
  }
}

export const BDF_PATTERN = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]$/;

function badRange(r: IovaRange): string | null {
  if (typeof r.start !== "bigint" || typeof r.last !== "bigint") return "bounds are not bigints";
  if (r.start < 0n || r.last > U64_MAX) return "outside [0, 2^64-1]";
  if (r.start > r.last) return "start after last";
  return null;
}

function coveredBy(r: ReservedRegion, list: readonly ReservedRegion[]): boolean {
  return list.some((g) => g.type === r.type && g.start <= r.start && r.last <= g.last);
}

/** Throws `InvalidHostError` listing every inconsistency; returns the host unchanged otherwise. */
export function validateHost(host: Host): Host {
  const p: string[] = [];
  const units = new Set<string>();
  for (const u of host.iommus) {
    if (units.has(u.name)) p.push(`IOMMU ${u.name} listed twice`);
    units.add(u.name);
    const why = badRange(u.aperture);
    if (why) p.push(`IOMMU ${u.name}: aperture ${why}`);
    if (u.pgsizeBitmap <= 0n || u.pgsizeBitmap > U64_MAX) p.push(`IOMMU ${u.name}: empty page-size bitmap`);
    if (!Number.isInteger(u.addressWidth) || u.addressWidth < 1 || u.addressWidth > 64) {
      p.push(`IOMMU ${u.name}: address width ${u.addressWidth} not in 1..64`);
    }
  }
  const groupIds = new Set(host.groups.map((g) => g.id));
  const bdfs = new Map<string, (typeof host.devices)[number]>();
  for (const d of host.devices) {
    if (!BDF_PATTERN.test(d.bdf)) p.push(`device ${JSON.stringify(d.bdf)}: not a BDF like 0000:00:04.0`);
    if (bdfs.has(d.bdf)) p.push(`device ${d.bdf} listed twice`);
    bdfs.set(d.bdf, d);
    if (d.group !== null && !groupIds.has(d.group))
      p.push(`device ${d.bdf}: group ${d.group} does not exist`);
    if (d.iommu !== null && !units.has(d.iommu)) p.push(`device ${d.bdf}: IOMMU ${d.iommu} does not exist`);
    if (d.group === null && d.reservedRegions.length > 0) {
      p.push(`device ${d.bdf}: reserved regions without an IOMMU group`);
    }
    for (const r of d.reservedRegions) {
      const why = badRange(r);
      if (why) p.push(`device ${d.bdf}: reserved region ${why}`);
    }
  }
  const seen = new Set<number>();
  for (const g of host.groups) {
    if (!Number.isInteger(g.id) || g.id < 0) p.push(`group ${g.id}: id is not a non-negative integer`);
    if (seen.has(g.id)) p.push(`group ${g.id} listed twice`);
    seen.add(g.id);
    for (const r of g.reservedRegions) {
      const why = badRange(r);
      if (why) p.push(`group ${g.id}: reserved region ${why}`);
      if (!RESERVED_TYPE_ORDER.includes(r.type)) p.push(`group ${g.id}: unknown region type ${r.type}`);
    }
    for (const bdf of g.devices) {
      const d = bdfs.get(bdf);
      if (!d) p.push(`group ${g.id}: member ${bdf} is not a known device`);
      else if (d.group !== g.id) p.push(`group ${g.id}: member ${bdf} says it is in group ${d.group}`);
      // The group list is the union of its members' lists (iommu_get_group_resv_regions).
      else
        for (const r of d.reservedRegions) {
          if (!coveredBy(r, g.reservedRegions)) {
            p.push(
              `group ${g.id}: region [${r.start.toString(16)}, ${r.last.toString(16)}] ${r.type} of ${bdf} missing`,
            );
          }
        }
    }
  }
  for (const d of host.devices) {
    const g = host.groups.find((x) => x.id === d.group);
    if (g && !g.devices.includes(d.bdf)) p.push(`device ${d.bdf}: not listed as a member of group ${g.id}`);
  }
  if (p.length > 0) throw new InvalidHostError(host.name, p);
  return host;
}

/**
 * Drivers that do not claim DMA ownership (`driver_managed_dma = true`): a group whose devices are
 * all unbound or bound to one of these is viable for VFIO (iommu_group_claim_dma_owner succeeds).
 */
const NON_DMA_DRIVERS = new Set(["pci-stub", "pcieport"]);

/** vfio-pci and its variant drivers (mlx5_vfio_pci, hisi_acc_vfio_pci, ...) are VFIO drivers. */
export function isVfioDriver(driver: string): boolean {
  return driver === "vfio-pci" || /vfio/.test(driver);
}

/** Devices of a group that keep it from being used by VFIO, with their drivers. */
export function groupBlockers(host: Host, groupId: number): { bdf: string; driver: string }[] {
  const g = host.groups.find((x) => x.id === groupId);
  if (!g) throw new RangeError(`no IOMMU group ${groupId}`);
  const out: { bdf: string; driver: string }[] = [];
  for (const bdf of g.devices) {
    const driver = host.devices.find((d) => d.bdf === bdf)?.driver ?? null;
    if (driver !== null && !isVfioDriver(driver) && !NON_DMA_DRIVERS.has(driver)) out.push({ bdf, driver });
  }
  return out;
}

/** VFIO group viability: every device unbound, on a VFIO driver, or on a non-DMA driver. */
export function groupViable(host: Host, groupId: number): boolean {
  return groupBlockers(host, groupId).length === 0;
}
