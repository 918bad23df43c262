/**
 * Layout fixups, as VMMs make them (or could), each reported with its trigger and how to get it.
 *
 *   none   the machine's default layout (QEMU ≤ 7.0 machine types, or a VMM without fixups).
 *   qemu   what QEMU ≥ 7.1 does by itself: hw/i386/pc.c `pc_memory_init` — on an AMD vCPU with
 *          `enforce_amd_1tb_hole` (machine types 7.1+), when `pc_max_used_gpa` (end of
 *          ram-above-4g rounded up to 1 GiB, plus the 64-bit PCI hole, minus 1) is ≥ AMD_HT_START
 *          0xfd00000000, ram-above-4g starts at AMD_ABOVE_1TB_START 0x10000000000 (1 TiB) instead of
 *          4 GiB. The trigger is the vCPU vendor, not the host IOMMU (semantics.md Appendix B.6).
 *   split  `qemu`, plus what a VMM could do: lower the RAM below 4 GiB to end before the first
 *          reserved window it hits (QEMU: max-ram-below-4g; the bytes move above 4 GiB), and cut any
 *          other region around reserved windows, its remainder continuing after each window.
 */

import { alignDown, alignUp } from "../u64.js";
import { rangeLength, type IovaRange } from "../ranges.js";
import type { UsableResult } from "../topology/usable.js";
import { conflictsOf } from "./check.js";
import { FOUR_GIB, GiB, machineRegions, type MachineModel } from "./machines.js";
import type { CpuVendor, Fixup, FixupMode, RamRegion } from "./types.js";

export const AMD_HT_START = 0xfd00000000n;
export const AMD_HT_LAST = 0xffffffffffn;
export const AMD_ABOVE_1TB_START = AMD_HT_LAST + 1n;

export interface FixupInput {
  readonly model: MachineModel;
  readonly ram: bigint;
  readonly mode: FixupMode;
  readonly vendor: CpuVendor;
  readonly usable: UsableResult;
  readonly alignment: bigint;
}

export interface FixupOutput {
  readonly regions: RamRegion[];
  readonly fixups: Fixup[];
  readonly notes: string[];
}

/** hw/i386/pc.c `pc_max_used_gpa` for a 64-bit CPU without hotplug memory or CXL. */
export function qemuMaxUsedGpa(regions: readonly RamRegion[], hole64: bigint): bigint {
  const high = regions.filter((r) => r.start >= FOUR_GIB);
  const aboveEnd = high.length > 0 ? high[high.length - 1]!.last + 1n : FOUR_GIB;
  return alignUp(aboveEnd, GiB) + hole64 - 1n;
}

function firstReservedHit(r: IovaRange, u: UsableResult): IovaRange | null {
  let first: IovaRange | null = null;
  for (const c of conflictsOf(r, u)) {
    if (c.kind === "reserved" && (!first || c.overlap.start < first.start)) first = c.overlap;
  }
  return first;
}

/** Lower the RAM below 4 GiB so that it ends before the first reserved window it overlaps. */
function shrinkLowmem(inp: FixupInput, notes: string[]): { limit: bigint; fixup: Fixup } | null {
  const rule = inp.model.ram;
  if (rule.kind !== "x86-split") return null;
  const regions = machineRegions(inp.model, inp.ram);
  const low = regions.find((r) => r.name === rule.lowName);
  if (!low) return null;
  const hit = firstReservedHit(low, inp.usable);
  if (!hit) return null;
  const limit = alignDown(hit.start, inp.alignment);
  if (limit <= low.start) {
    notes.push(`${low.name} cannot be lowered: a reserved region starts at its first byte`);
    return null;
  }
  const after = machineRegions(inp.model, inp.ram, { lowmemLimit: limit });
  const how = inp.model.lowmemOption
    ? inp.model.lowmemOption(limit)
    : `${inp.model.name} has no option to lower the RAM below 4 GiB (a VMM that places RAM itself could)`;
  return {
    limit,
    fixup: {
      kind: "shrink-lowmem",
      before: regions,
      after,
      reason: `${low.name} overlaps a reserved region at 0x${hit.start.toString(16)}: end low RAM before it and move ${rangeLength(low) - limit} bytes above 4 GiB`,
      how,
    },
  };
}

/** QEMU ≥ 7.1 AMD HyperTransport relocation of ram-above-4g. */
function amdHtRelocation(inp: FixupInput, regions: RamRegion[], lowmemLimit: bigint | undefined) {
  const m = inp.model;
  if (!m.amdHtRelocation || m.pciHole64Size === null || inp.vendor !== "amd") return null;
  const maxUsed = qemuMaxUsedGpa(regions, m.pciHole64Size);
  const high = regions.find((r) => r.start >= FOUR_GIB);
  if (maxUsed < AMD_HT_START || !high) return null;
  const after = machineRegions(m, inp.ram, {
    highStart: AMD_ABOVE_1TB_START,
    ...(lowmemLimit !== undefined ? { lowmemLimit } : {}),
  });
  const fixup: Fixup = {
    kind: "amd-ht-relocation",
    before: [high],
    after: after.filter((r) => r.start >= FOUR_GIB),
    reason: `AMD vCPU and the highest used GPA 0x${maxUsed.toString(16)} (RAM above 4 GiB + ${m.pciHole64Size / GiB} GiB 64-bit PCI hole) reaches AMD_HT_START 0xfd00000000: QEMU ≥ 7.1 moves ${high.name} to 1 TiB`,
    how: "automatic on QEMU ≥ 7.1 machine types with an AMD vCPU; the vCPU needs phys-bits large enough for the relocated top, or QEMU exits",
  };
  return { regions: after, fixup };
}

/**
 * Flow a region through the usable ranges from its start: each piece fills one usable range, the
 * remainder continues after the window. Null when the usable space above the start is too small.
 */
export function flowRegion(r: RamRegion, usable: readonly IovaRange[], align: bigint): RamRegion[] | null {
  let remaining = rangeLength(r);
  let cur = r.start;
  const pieces: IovaRange[] = [];
  for (const u of usable) {
    if (u.last < cur) continue;
    const start = alignUp(u.start > cur ? u.start : cur, align);
    if (start > u.last) continue;
    const room = alignDown(u.last - start + 1n, align);
    const take = room < remaining ? room : remaining;
    if (take === 0n) continue;
    pieces.push({ start, last: start + take - 1n });
    remaining -= take;
    cur = start + take;
    if (remaining === 0n) break;
  }
  if (remaining > 0n) return null;
  return pieces.map((p, i) => ({ name: pieces.length > 1 ? `${r.name}[${i}]` : r.name, ...p }));
}

export function applyFixups(inp: FixupInput): FixupOutput {
  const fixups: Fixup[] = [];
  const notes: string[] = [];
  let regions = machineRegions(inp.model, inp.ram);
  if (inp.mode === "none") return { regions, fixups, notes };

  let lowmemLimit: bigint | undefined;
  if (inp.mode === "split") {
    const shrink = shrinkLowmem(inp, notes);
    if (shrink) {
      lowmemLimit = shrink.limit;
      regions = machineRegions(inp.model, inp.ram, { lowmemLimit });
      fixups.push(shrink.fixup);
    }
  }

  const ht = amdHtRelocation(inp, regions, lowmemLimit);
  if (ht) {
    regions = ht.regions;
    fixups.push(ht.fixup);
  }

  if (inp.mode === "split") {
    const lowName = inp.model.ram.kind === "x86-split" ? inp.model.ram.lowName : null;
    const out: RamRegion[] = [];
    for (const r of regions) {
      const hit = r.name === lowName ? null : firstReservedHit(r, inp.usable);
      if (!hit) {
        out.push(r);
        continue;
      }
      const pieces = flowRegion(r, inp.usable.ranges, inp.alignment);
      if (!pieces) {
        notes.push(`${r.name} cannot be split: not enough usable IOVA space above 0x${r.start.toString(16)}`);
        out.push(r);
        continue;
      }
      out.push(...pieces);
      fixups.push({
        kind: "split",
        before: [r],
        after: pieces,
        reason: `${r.name} overlaps a reserved region at 0x${hit.start.toString(16)}: cut around every reserved window, the rest continues after it`,
        how:
          inp.model.vmm === "qemu"
            ? "not a QEMU option: needs a VMM that places RAM blocks itself (or memory devices placed by hand)"
            : `not a ${inp.model.name} option: needs a VMM that places RAM blocks itself`,
      });
    }
    regions = out;
  }
  return { regions, fixups, notes };
}
