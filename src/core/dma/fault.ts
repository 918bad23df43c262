/**
 * DMA faults: what the IOMMU reports when a device access fails translation, in the vocabulary of
 * the hardware that reports it, and the kernel log lines it produces.
 */

import type { IommuKind } from "../topology/types.js";

export type DmaDirection = "read" | "write";

/** VT-d fault reasons (VT-d spec, "Non-Recoverable Fault Reasons"); the codes the engine raises. */
export const VTD_FAULT_REASONS = {
  0x01: "Present bit in root entry is clear",
  0x02: "Present bit in context entry is clear",
  0x05: "PTE Write access is not set",
  0x06: "PTE Read access is not set",
} as const;

export type VtdFaultReason = keyof typeof VTD_FAULT_REASONS;

export interface DmaFault {
  /** Requester BDF ("0000:00:04.0"). */
  readonly device: string;
  readonly iova: bigint;
  readonly direction: DmaDirection;
  /** VT-d fault reason code (also used as the generic reason on other IOMMUs). */
  readonly reason: VtdFaultReason;
  readonly reasonText: string;
}

/**
 * Translation failure on a second-level table: VT-d reports the access that was not allowed — a
 * non-present entry has neither bit, so a read reports 0x06 and a write 0x05.
 */
export function permissionFault(device: string, iova: bigint, direction: DmaDirection): DmaFault {
  const reason: VtdFaultReason = direction === "write" ? 0x05 : 0x06;
  return { device, iova, direction, reason, reasonText: VTD_FAULT_REASONS[reason] };
}

export function detachedFault(device: string, iova: bigint, direction: DmaDirection): DmaFault {
  return { device, iova, direction, reason: 0x02, reasonText: VTD_FAULT_REASONS[0x02] };
}

/** "0000:00:04.0" → "00:04.0" as the DMAR driver prints requesters. */
function shortBdf(bdf: string): string {
  const parts = bdf.split(":");
  return parts.length === 3 ? `${parts[1]}:${parts[2]}` : bdf;
}

/**
 * The kernel log lines a fault produces on each IOMMU kind. VT-d's driver prints the fault status
 * register and one line per fault record; virtio-iommu's lines are rate-limited per access, so the
 * recorded traces filter them out — we print none for it.
 */
export function faultLogLines(kind: IommuKind, faults: readonly DmaFault[]): string[] {
  if (faults.length === 0) return [];
  switch (kind) {
    case "intel-vtd":
      return [
        "DMAR: DRHD: handling fault status reg 2",
        ...faults.map(
          (f) =>
            `DMAR: [DMA ${f.direction === "read" ? "Read" : "Write"} NO_PASID] Request device [${shortBdf(f.device)}] ` +
            `fault addr 0x${f.iova.toString(16)} [fault reason 0x${f.reason.toString(16).padStart(2, "0")}] ${f.reasonText}`,
        ),
      ];
    case "amd-vi":
      return faults.map(
        (f) =>
          `AMD-Vi: Event logged [IO_PAGE_FAULT device=${shortBdf(f.device)} address=0x${f.iova.toString(16)} flags=0x${f.direction === "write" ? "0020" : "0000"}]`,
      );
    case "arm-smmu-v3":
      return faults.map(
        (f) =>
          `arm-smmu-v3: event 0x10 received: F_TRANSLATION ${shortBdf(f.device)} iova 0x${f.iova.toString(16)}`,
      );
    default:
      return [];
  }
}
