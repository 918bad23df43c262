/**
 * Seed 004 extension — NEVER MERGED UPSTREAM. A per-device reserved-range query in the spirit of the
 * 2023 `IOMMU_RESV_IOVA_RANGES` proposal (semantics.md §2.14): opt-in (off by default), on a command
 * number outside the kernel's range (`_IO(';', 0xf0)`), so replays of real kernels never see it.
 *
 * `struct { u32 size; u32 dev_id; u32 num_iovas (in: capacity, out: count); u32 __reserved;
 * u64 resv_iovas (array of iommu_iova_range) }` — 24 bytes. Same rules as IOVA_RANGES: as many ranges
 * as fit are written, the struct is written back, then EMSGSIZE when the array was short.
 */

import { fail } from "../../core/errno.js";
import { copyStructFromUser, copyToUser, getUserU32, type IoctlCall } from "../file.js";
import { _IO, IOCTL_TYPE } from "../numbers.js";
import { defineStruct } from "../struct.js";
import { iommuIovaRange } from "../structs/iommufd.js";
import type { Kernel } from "../system.js";
import type { IommufdFile } from "./file.js";

export const IOMMU_RESV_IOVA_RANGES_EXT = _IO(IOCTL_TYPE, 0xf0);

export const iommuResvIovaRanges = defineStruct("iommu_resv_iova_ranges(ext)", [
  ["size", "u32"],
  ["dev_id", "u32"],
  ["num_iovas", "u32"],
  ["__reserved", "u32"],
  ["resv_iovas", "u64"],
]);

const KEY = "iommufd.ext.resv-iova-ranges";

/** Turn the extension on or off for every /dev/iommu of `kernel` (default off). */
export function enableResvIovaRanges(kernel: Kernel, on = true): void {
  kernel.service<{ on: boolean }>(KEY, () => ({ on: false })).on = on;
}

export function resvIovaRangesEnabled(kernel: Kernel): boolean {
  return kernel.service<{ on: boolean }>(KEY, () => ({ on: false })).on;
}

export function resvIovaRanges(file: IommufdFile, call: IoctlCall): number {
  const op = "IOMMU_RESV_IOVA_RANGES(ext)";
  const size = getUserU32(call.process, call.arg);
  if (size < iommuResvIovaRanges.minSize) fail("EINVAL", op, "size below the struct");
  const bytes = copyStructFromUser(call.process, call.arg, iommuResvIovaRanges, size, op);
  const cmd = iommuResvIovaRanges.decode(bytes);
  if (cmd.__reserved !== 0) fail("EOPNOTSUPP", op, "reserved field set");
  const ranges = file.ctx.deviceReservedRanges(cmd.dev_id);
  for (let i = 0; i < ranges.length && i < cmd.num_iovas; i++)
    copyToUser(
      call.process,
      cmd.resv_iovas + BigInt(i * iommuIovaRange.size),
      iommuIovaRange.encode({ start: ranges[i]!.start, last: ranges[i]!.last }),
    );
  iommuResvIovaRanges.encodeInto(bytes, { num_iovas: ranges.length });
  copyToUser(call.process, call.arg, bytes.subarray(0, Math.min(size, iommuResvIovaRanges.size)));
  if (ranges.length > cmd.num_iovas) fail("EMSGSIZE", op, "output array too small");
  return 0;
}
