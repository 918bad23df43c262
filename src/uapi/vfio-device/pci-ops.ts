/**
 * What every VFIO device fd answers the same way, however it was opened (group GET_DEVICE_FD or the
 * cdev): vfio-pci's DEVICE_GET_INFO and GET_REGION_INFO, and pread/pwrite into the regions, all
 * backed by the host's PCI function model (core/devices).
 */

import { fail } from "../../core/errno.js";
import type { PciFunction } from "../../core/devices/pci-function.js";
import {
  VFIO_DEVICE_FLAGS_PCI,
  VFIO_PCI_NUM_IRQS,
  VFIO_PCI_NUM_REGIONS,
} from "../../core/devices/pci-function.js";
import type { IoctlCall } from "../file.js";
import { copyFromUser, copyToUser } from "../file.js";
import { VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_REGION_INFO } from "../numbers.js";
import { vfioDeviceInfo, vfioRegionInfo } from "../structs/vfio.js";

export const PCI_DEVICE_REQUESTS: ReadonlySet<number> = new Set([
  VFIO_DEVICE_GET_INFO,
  VFIO_DEVICE_GET_REGION_INFO,
]);

/** VFIO_DEVICE_GET_INFO: argsz must cover num_irqs; min(argsz, 24) bytes are written back. */
function getInfo(fn: PciFunction, call: IoctlCall): number {
  const op = "VFIO_DEVICE_GET_INFO";
  const input = vfioDeviceInfo.decode(copyFromUser(call.process, call.arg, vfioDeviceInfo.minSize));
  if (input.argsz < vfioDeviceInfo.minSize) fail("EINVAL", op, "argsz below num_irqs");
  void fn; // every vfio-pci function reports the standard region and IRQ counts
  const out = vfioDeviceInfo.encode({
    argsz: input.argsz,
    flags: VFIO_DEVICE_FLAGS_PCI,
    num_regions: VFIO_PCI_NUM_REGIONS,
    num_irqs: VFIO_PCI_NUM_IRQS,
    cap_offset: 0,
  });
  copyToUser(call.process, call.arg, out.subarray(0, Math.min(input.argsz, vfioDeviceInfo.size)));
  return 0;
}

/** VFIO_DEVICE_GET_REGION_INFO: the whole 32-byte struct is mandatory; unknown index → EINVAL. */
function getRegionInfo(fn: PciFunction, call: IoctlCall): number {
  const op = "VFIO_DEVICE_GET_REGION_INFO";
  const input = vfioRegionInfo.decode(copyFromUser(call.process, call.arg, vfioRegionInfo.size));
  if (input.argsz < vfioRegionInfo.minSize) fail("EINVAL", op, "argsz below the struct");
  const info = fn.regionInfo(input.index);
  // The VGA region exists only on VGA devices; indexes past the device's regions do not exist.
  if (!info || (input.index === 8 && ((fn.config[0x0b] ?? 0) !== 0x03 || info.size === 0n))) {
    fail("EINVAL", op, `no region ${input.index}`);
  }
  const out = vfioRegionInfo.encode({
    argsz: input.argsz,
    flags: info.flags,
    index: input.index,
    cap_offset: 0,
    size: info.size,
    offset: info.offset,
  });
  copyToUser(call.process, call.arg, out);
  return 0;
}

/** Handle a vfio-pci device ioctl; undefined when `call.request` is not one of them. */
export function pciDeviceIoctl(fn: PciFunction, call: IoctlCall): number | undefined {
  if (call.request === VFIO_DEVICE_GET_INFO) return getInfo(fn, call);
  if (call.request === VFIO_DEVICE_GET_REGION_INFO) return getRegionInfo(fn, call);
  return undefined;
}

/** pread(2) on a device fd: EINVAL outside the regions. */
export function pciDevicePread(fn: PciFunction, offset: bigint, length: number): Uint8Array {
  const data = fn.read(offset, length);
  if (!data) fail("EINVAL", "pread", `offset 0x${offset.toString(16)} is outside the device's regions`);
  return data;
}

/** pwrite(2) on a device fd: EINVAL outside the regions. */
export function pciDevicePwrite(fn: PciFunction, offset: bigint, data: Uint8Array): void {
  if (!fn.write(offset, data))
    fail("EINVAL", "pwrite", `offset 0x${offset.toString(16)} is outside the device's regions`);
}
