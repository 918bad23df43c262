/**
 * `/dev/vfio/devices/vfioN`: the VFIO device cdev (device_cdev.c, semantics.md §1.3).
 *
 * Before BIND_IOMMUFD every other ioctl is EINVAL (access not granted). BIND blocks the group's
 * legacy interface (`vfio_device_block_group`: EBUSY while the group file is open) and binds the
 * device to the iommufd context (taking a reference on that file, as `iommufd_ctx_from_fd` does).
 * ATTACH attaches or replaces; DETACH is silent when not attached. Closing unbinds.
 *
 * Extension point: device ioctls other than the three iommufd ones (GET_INFO, GET_REGION_INFO, ...)
 * and pread/pwrite go to the shared vfio-pci device ops; more device ioctls are added in
 * `deviceIoctl` below.
 */

import { fail, IoasError } from "../../core/errno.js";
import type { VfioDevice, VfioSubsystem } from "../../core/vfio/subsystem.js";
import { copyFromUser, copyToUser, type IoctlCall, type OpenFile, type OpenFileHandle } from "../file.js";
import {
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_BIND_IOMMUFD,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
} from "../numbers.js";
import {
  vfioDeviceAttachIommufdPt,
  vfioDeviceBindIommufd,
  vfioDeviceDetachIommufdPt,
} from "../structs/vfio.js";
import type { Kernel } from "../system.js";
import { IommufdFile } from "../iommufd/file.js";
import {
  PCI_DEVICE_REQUESTS,
  pciDeviceIoctl,
  pciDevicePread,
  pciDevicePwrite,
} from "../vfio-device/pci-ops.js";

/** What `VfioDevice.iommufdBinding` holds while a cdev is bound. */
export interface CdevBinding {
  readonly file: IommufdFile;
  readonly devId: number;
}

export class VfioCdevFile implements OpenFile {
  readonly kind = "vfio-cdev" as const;
  /** The iommufd file this cdev is bound to (a reference is held), or null before BIND. */
  private bound: { handle: OpenFileHandle; file: IommufdFile; devId: number } | null = null;
  /** `vdev->iommufd_attached`. */
  private attached = false;

  constructor(
    readonly kernel: Kernel,
    readonly vfio: VfioSubsystem,
    readonly device: VfioDevice,
  ) {}

  ioctl(call: IoctlCall): number {
    if (call.request === VFIO_DEVICE_BIND_IOMMUFD) return this.bind(call);
    if (!this.bound) fail("EINVAL", "vfio_device_fops_unl_ioctl", "device not bound to an iommufd");
    switch (call.request) {
      case VFIO_DEVICE_ATTACH_IOMMUFD_PT:
        return this.attach(call);
      case VFIO_DEVICE_DETACH_IOMMUFD_PT:
        return this.detach(call);
      default:
        return this.deviceIoctl(call);
    }
  }

  supports(request: number): boolean {
    return (
      request === VFIO_DEVICE_BIND_IOMMUFD ||
      request === VFIO_DEVICE_ATTACH_IOMMUFD_PT ||
      request === VFIO_DEVICE_DETACH_IOMMUFD_PT ||
      (PCI_DEVICE_REQUESTS.has(request) && this.kernel.devices.function(this.device.bdf) !== undefined)
    );
  }

  /** Device ioctls shared with group-opened device fds (the extension point for the DMA work). */
  private deviceIoctl(call: IoctlCall): number {
    const fn = this.kernel.devices.function(this.device.bdf);
    const r = fn ? pciDeviceIoctl(fn, call) : undefined;
    if (r === undefined) fail("ENOTTY", "vfio_device_fops_unl_ioctl", "unknown device ioctl");
    return r;
  }

  pread(offset: bigint, length: number): Uint8Array {
    if (!this.bound) fail("EINVAL", "pread", "device not bound");
    const fn = this.kernel.devices.function(this.device.bdf);
    if (!fn) fail("EINVAL", "pread", "no device model");
    return pciDevicePread(fn, offset, length);
  }

  pwrite(offset: bigint, data: Uint8Array): void {
    if (!this.bound) fail("EINVAL", "pwrite", "device not bound");
    const fn = this.kernel.devices.function(this.device.bdf);
    if (!fn) fail("EINVAL", "pwrite", "no device model");
    pciDevicePwrite(fn, offset, data);
  }

  /** VFIO_DEVICE_BIND_IOMMUFD (vfio_df_ioctl_bind_iommufd). */
  private bind(call: IoctlCall): number {
    const op = "VFIO_DEVICE_BIND_IOMMUFD";
    const minsz = vfioDeviceBindIommufd.minSize;
    const bind = vfioDeviceBindIommufd.decode(copyFromUser(call.process, call.arg, minsz));
    if (bind.argsz < minsz || bind.flags !== 0 || bind.iommufd < 0) fail("EINVAL", op, "bad argsz/flags/fd");
    const group = this.device.group;
    // vfio_device_block_group: the legacy group interface is in use.
    if (group.fileOpen) fail("EBUSY", op, `group ${group.id} is open through /dev/vfio/${group.id}`);
    if (this.bound) fail("EINVAL", op, "already bound");
    const handle = call.process.getHandle(bind.iommufd);
    if (!(handle.file instanceof IommufdFile)) fail("EBADFD", op, "not an iommufd file");
    const file = handle.file;
    // vfio_df_open: the cdev path cannot share an open device.
    if (this.device.groupOpenCount > 0 || this.device.iommufdBinding !== null)
      fail("EINVAL", op, "device already open");
    const devId = file.ctx.bindDevice(this.device.pci);
    try {
      const out = vfioDeviceBindIommufd.encode({ out_devid: devId });
      const at = vfioDeviceBindIommufd.offsetOf("out_devid");
      copyToUser(call.process, call.arg + BigInt(at), out.subarray(at, at + 4));
    } catch (e) {
      file.ctx.unbindDevice(devId);
      throw e;
    }
    this.bound = { handle: handle.get(), file, devId };
    this.device.cdevOpenCount++;
    this.device.iommufdBinding = { file, devId } satisfies CdevBinding;
    return 0;
  }

  /** VFIO_DEVICE_ATTACH_IOMMUFD_PT: attach or replace; the attached id goes back into pt_id. */
  private attach(call: IoctlCall): number {
    const op = "VFIO_DEVICE_ATTACH_IOMMUFD_PT";
    const minsz = vfioDeviceAttachIommufdPt.minSize;
    const attach = vfioDeviceAttachIommufdPt.decode(copyFromUser(call.process, call.arg, minsz));
    if (attach.argsz < minsz || attach.flags !== 0) fail("EINVAL", op, "bad argsz/flags");
    const { file, devId } = this.bound!;
    const ptId = this.attached
      ? file.ctx.replaceDevice(devId, attach.pt_id, op)
      : file.ctx.attachDevice(devId, attach.pt_id, op);
    this.attached = true;
    try {
      const out = vfioDeviceAttachIommufdPt.encode({ pt_id: ptId });
      const at = vfioDeviceAttachIommufdPt.offsetOf("pt_id");
      copyToUser(call.process, call.arg + BigInt(at), out.subarray(at, at + 4));
    } catch (e) {
      if (e instanceof IoasError) {
        file.ctx.detachDevice(devId);
        this.attached = false;
      }
      throw e;
    }
    return 0;
  }

  /** VFIO_DEVICE_DETACH_IOMMUFD_PT: silent when not attached. */
  private detach(call: IoctlCall): number {
    const op = "VFIO_DEVICE_DETACH_IOMMUFD_PT";
    const minsz = vfioDeviceDetachIommufdPt.minSize;
    const detach = vfioDeviceDetachIommufdPt.decode(copyFromUser(call.process, call.arg, minsz));
    if (detach.argsz < minsz || detach.flags !== 0) fail("EINVAL", op, "bad argsz/flags");
    if (this.attached) {
      this.bound!.file.ctx.detachDevice(this.bound!.devId);
      this.attached = false;
    }
    return 0;
  }

  release(): void {
    const b = this.bound;
    if (!b) return;
    this.bound = null;
    this.attached = false;
    b.file.ctx.unbindDevice(b.devId);
    this.device.cdevOpenCount--;
    this.device.iommufdBinding = null;
    b.handle.put();
  }
}
