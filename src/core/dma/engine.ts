/**
 * The DMA datapath: a device reads or writes bytes at an IOVA, translated through the domain it is
 * attached to, piece by piece (one IOMMU page at a time), into the pinned memory behind it.
 *
 * Rules (per IOMMU kind):
 *   - An access with no translation, or against the translation's permission, faults: a read
 *     returns zeros for that piece, a write is dropped; memory is untouched and the fault recorded.
 *   - VT-d: a write-only mapping is also readable (the driver sets the read bit with the write bit).
 *   - VT-d (QEMU): a write to a read-only page whose translation sits in the IOTLB is dropped
 *     silently — the memory core, not the IOMMU, checks a cached entry's permission.
 *   - x86: a write into the hardware MSI window [0xfee00000, 0xfeefffff] is an interrupt request,
 *     not memory; it never reaches the page table.
 *   - Software MSI (ARM): a write that translates to the doorbell page mapped in the domain's sw-MSI
 *     window is an interrupt request too.
 *   - Dirty tracking: a successful write marks the IOVA page dirty in the domain.
 */

import type { IommuDomain } from "../domain.js";
import { PAGE_SIZE } from "../u64.js";
import { MsiDoorbell } from "./doorbell.js";
import { detachedFault, permissionFault, type DmaDirection, type DmaFault } from "./fault.js";

export const X86_MSI_WINDOW = { start: 0xfee00000n, last: 0xfeefffffn } as const;

export interface MsiRecord {
  readonly device: string;
  readonly address: bigint;
  readonly data: Uint8Array;
}

export interface DmaOutcome {
  readonly faults: DmaFault[];
  readonly interrupts: MsiRecord[];
  /** Bytes that reached memory (write) or came from memory (read). */
  readonly transferred: number;
}

export interface DmaReadOutcome extends DmaOutcome {
  readonly data: Uint8Array;
}

function hasHardwareMsiWindow(domain: IommuDomain): boolean {
  return domain.unit.kind === "intel-vtd" || domain.unit.kind === "amd-vi";
}

interface Piece {
  readonly iova: bigint;
  readonly offset: number;
  readonly length: number;
}

/** Split [iova, iova+length) at IOMMU page boundaries. */
function* pieces(iova: bigint, length: number): Generator<Piece> {
  let off = 0;
  while (off < length) {
    const cur = iova + BigInt(off);
    const room = Number(PAGE_SIZE - (cur % PAGE_SIZE));
    const n = Math.min(room, length - off);
    yield { iova: cur, offset: off, length: n };
    off += n;
  }
}

type Verdict = "ok" | "fault" | "dropped";

function check(domain: IommuDomain, iova: bigint, dir: DmaDirection): Verdict {
  const t = domain.translate(iova);
  if (!t) return "fault";
  const vtd = domain.unit.kind === "intel-vtd";
  const allowed = dir === "read" ? t.read || (vtd && t.write) : t.write;
  if (allowed) return "ok";
  if (vtd && domain.iotlb.has(iova / PAGE_SIZE)) return "dropped";
  return "fault";
}

/** A device reads `length` bytes at `iova` through `domain` (null: the device is blocked). */
export function deviceRead(
  domain: IommuDomain | null,
  device: string,
  iova: bigint,
  length: number,
): DmaReadOutcome {
  const data = new Uint8Array(length);
  const faults: DmaFault[] = [];
  let transferred = 0;
  for (const p of pieces(iova, length)) {
    if (!domain) {
      if (faults.length === 0) faults.push(detachedFault(device, p.iova, "read"));
      continue;
    }
    const verdict = check(domain, p.iova, "read");
    if (verdict === "fault") {
      faults.push(permissionFault(device, p.iova, "read"));
      continue;
    }
    if (verdict === "dropped") continue;
    const t = domain.translate(p.iova)!;
    t.object.read(t.offset, p.length, data, p.offset);
    domain.iotlb.fill(p.iova / PAGE_SIZE);
    transferred += p.length;
  }
  return { data, faults, interrupts: [], transferred };
}

/** A device writes `data` at `iova` through `domain` (null: the device is blocked). */
export function deviceWrite(
  domain: IommuDomain | null,
  device: string,
  iova: bigint,
  data: Uint8Array,
): DmaOutcome {
  const faults: DmaFault[] = [];
  const interrupts: MsiRecord[] = [];
  let transferred = 0;
  for (const p of pieces(iova, data.length)) {
    const chunk = data.subarray(p.offset, p.offset + p.length);
    if (!domain) {
      if (faults.length === 0) faults.push(detachedFault(device, p.iova, "write"));
      continue;
    }
    if (hasHardwareMsiWindow(domain) && p.iova >= X86_MSI_WINDOW.start && p.iova <= X86_MSI_WINDOW.last) {
      interrupts.push({ device, address: p.iova, data: chunk.slice() });
      continue;
    }
    const verdict = check(domain, p.iova, "write");
    if (verdict === "fault") {
      faults.push(permissionFault(device, p.iova, "write"));
      continue;
    }
    if (verdict === "dropped") continue;
    const t = domain.translate(p.iova)!;
    if (t.object instanceof MsiDoorbell) {
      interrupts.push({ device, address: p.iova, data: chunk.slice() });
      continue;
    }
    t.object.write(t.offset, chunk);
    domain.iotlb.fill(p.iova / PAGE_SIZE);
    domain.markDirty(p.iova);
    transferred += p.length;
  }
  return { faults, interrupts, transferred };
}
