/**
 * A device fd obtained through its group (VFIO_GROUP_GET_DEVICE_FD).
 *
 * The vfio-pci operations (DEVICE_GET_INFO, GET_REGION_INFO, pread/pwrite into the regions, hence
 * the edu's DMA) are the shared ones of `vfio-device/pci-ops.ts`; this file only adds what is
 * specific to the group path: the device fd holds a reference on the group file (so the group stays
 * attached until the last device fd closes), and in compat mode the last close detaches the device
 * from the iommufd context it was bound to at open.
 */

import { fail } from "../../core/errno.js";
import type { VfioDevice } from "../../core/vfio/subsystem.js";
import type { FileHandle } from "../../process/file-handle.js";
import type { IoctlCall, OpenFile } from "../file.js";
import type { Kernel } from "../system.js";
import {
  PCI_DEVICE_REQUESTS,
  pciDeviceIoctl,
  pciDevicePread,
  pciDevicePwrite,
} from "../vfio-device/pci-ops.js";
import { compatLink } from "./compat-link.js";

export class GroupDeviceFile implements OpenFile {
  readonly kind = "vfio-device" as const;
  private released = false;

  constructor(
    private readonly kernel: Kernel,
    readonly device: VfioDevice,
    private readonly groupFile: FileHandle<OpenFile>,
    /** The iommufd context the device was bound to at open (compat mode), else null. */
    private readonly ictx: object | null,
  ) {}

  private get fn() {
    const fn = this.kernel.devices.function(this.device.bdf);
    if (!fn) fail("ENODEV", "vfio_device", `no device model for ${this.device.bdf}`);
    return fn;
  }

  supports(request: number): boolean {
    return PCI_DEVICE_REQUESTS.has(request);
  }

  ioctl(call: IoctlCall): number {
    const ret = pciDeviceIoctl(this.fn, call);
    if (ret === undefined) fail("ENOTTY", "vfio_device_fops_unl_ioctl", "not a device ioctl");
    return ret;
  }

  pread(offset: bigint, length: number): Uint8Array {
    return pciDevicePread(this.fn, offset, length);
  }

  pwrite(offset: bigint, data: Uint8Array): void {
    pciDevicePwrite(this.fn, offset, data);
  }

  /** `vfio_device_fops_release` → `vfio_df_group_close`, then the group file reference goes. */
  release(): void {
    if (this.released) return;
    this.released = true;
    const dev = this.device;
    dev.groupOpenCount--;
    if (dev.groupOpenCount === 0 && this.ictx !== null) compatLink(this.kernel)?.closeDevice(this.ictx, dev);
    this.groupFile.put();
  }
}
