/**
 * Intel VT-d capability registers: what the engine derives from `cap` and `ecap`.
 *
 * Bit positions are those of the VT-d specification as the kernel decodes them
 * (drivers/iommu/intel/iommu.h `cap_mgaw`, `cap_sagaw`, `cap_super_page_val`, `ecap_ir_support`,
 * `ecap_sc_support`, `ecap_smts`, `ecap_slads`). The two reference values come from QEMU's emulated
 * unit (hw/i386/intel_iommu.c `vtd_cap_init`), as recorded in the vectors' sysfs dumps:
 * aw-bits 39 → cap 0xd2008c22260206, aw-bits 48 → cap 0xd2008c222f0606; ecap 0xf00f4a with
 * interrupt remapping, 0xf42 without.
 */

import { U64_MAX } from "../u64.js";

/** MGAW, bits 21:16: maximum guest address width minus one. */
export function vtdMgaw(cap: bigint): number {
  return Number((cap >> 16n) & 0x3fn) + 1;
}

/** SAGAW, bits 12:8: supported page-table levels (bit 1 = 39-bit 3-level, 2 = 48-bit, 3 = 57-bit). */
export function vtdSagaw(cap: bigint): number {
  return Number((cap >> 8n) & 0x1fn);
}

/** Widths of the page-table levels SAGAW advertises, narrowest first. */
export function vtdSagawWidths(cap: bigint): number[] {
  const sagaw = vtdSagaw(cap);
  return [30, 39, 48, 57, 64].filter((_, bit) => (sagaw & (1 << bit)) !== 0);
}

/**
 * Domain address width: the kernel clips the domain's gaw to the unit's MGAW (and the page table
 * must be able to cover it: the widest SAGAW level). Aperture is [0, 2^width - 1].
 */
export function vtdAddressWidth(cap: bigint): number {
  const widest = Math.max(0, ...vtdSagawWidths(cap));
  const mgaw = vtdMgaw(cap);
  return widest === 0 ? mgaw : Math.min(mgaw, widest);
}

/** Second-level large pages, bits 37:34 (SLLPS): bit 0 = 2 MiB, bit 1 = 1 GiB. */
export function vtdPgsizeBitmap(cap: bigint): bigint {
  const sllps = (cap >> 34n) & 0xfn;
  let bitmap = 1n << 12n;
  if (sllps & 1n) bitmap |= 1n << 21n;
  if (sllps & 2n) bitmap |= 1n << 30n;
  return bitmap;
}

/** ECAP bit 3 (IR): interrupt remapping — what isolates MSIs on x86. */
export function vtdInterruptRemapping(ecap: bigint): boolean {
  return (ecap & (1n << 3n)) !== 0n;
}

/** ECAP bit 7 (SC): snoop control — domains can enforce cache coherency (block no-snoop). */
export function vtdSnoopControl(ecap: bigint): boolean {
  return (ecap & (1n << 7n)) !== 0n;
}

/**
 * Dirty tracking needs scalable mode (ECAP bit 43, SMTS) and second-stage A/D bits (bit 45, SLADS).
 * Legacy-mode units, as in the vectors, have none (GET_HW_INFO out_capabilities 0).
 */
export function vtdDirtyTracking(ecap: bigint): boolean {
  return (ecap & (1n << 43n)) !== 0n && (ecap & (1n << 45n)) !== 0n;
}

/** QEMU's cap register with MGAW and SAGAW cleared (caching mode, 2M|1G large pages, 256 domains...). */
const QEMU_CAP_BASE = 0xd2008c22000006n;

/**
 * The cap register QEMU's intel-iommu reports for `aw-bits=width`: MGAW = width - 1 and SAGAW
 * the 39-bit level plus every wider level up to `width` (QEMU: 39 → SAGAW_39bit, 48 → 39|48).
 */
export function vtdCapFor(width: number): bigint {
  if (!Number.isInteger(width) || width < 1 || width > 64) {
    throw new RangeError(`VT-d address width must be 1..64, got ${width}`);
  }
  let sagaw = 1n << 1n;
  if (width >= 48) sagaw |= 1n << 2n;
  if (width >= 57) sagaw |= 1n << 3n;
  return QEMU_CAP_BASE | (BigInt(width - 1) << 16n) | (sagaw << 8n);
}

/** QEMU's ecap register: 0xf00f4a with interrupt remapping (IR and MHMV set), 0xf42 without. */
export function vtdEcapFor(opts: { interruptRemapping: boolean; snoopControl?: boolean }): bigint {
  let ecap = opts.interruptRemapping ? 0xf00f4an : 0xf42n;
  if (opts.snoopControl) ecap |= 1n << 7n;
  return ecap;
}

/** [0, 2^width - 1], saturating at the u64 limit. */
export function apertureLast(width: number): bigint {
  return width >= 64 ? U64_MAX : (1n << BigInt(width)) - 1n;
}
