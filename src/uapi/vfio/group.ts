/**
 * `/dev/vfio/<group>`: the group file (group.c).
 *
 * One open file per group. SET_CONTAINER gives the group a legacy user — a type1 container or an
 * iommufd context (compat) — and the group holds a reference on that file; device fds hold a
 * reference on the group file, so the group's release (which detaches it) waits for them.
 */

import { fail } from "../../core/errno.js";
import { shouldFail } from "../../core/fault.js";
import type { KernelFeatures } from "../../core/kernel.js";
import type { VfioGroup, VfioSubsystem } from "../../core/vfio/subsystem.js";
import { VfioContainer } from "../../core/vfio/container.js";
import type { FileHandle } from "../../process/file-handle.js";
import type { Process } from "../../process/process.js";
import { copyFromUser, copyToUser, getUserS32, type IoctlCall, type OpenFile } from "../file.js";
import {
  VFIO_GROUP_FLAGS_CONTAINER_SET,
  VFIO_GROUP_FLAGS_VIABLE,
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER,
} from "../numbers.js";
import { vfioGroupStatus } from "../structs/vfio.js";
import type { Kernel } from "../system.js";
import { compatLink } from "./compat-link.js";
import { ContainerFile } from "./container.js";
import { GroupDeviceFile } from "./device.js";

/** `strndup_user(arg, PAGE_SIZE)`: EFAULT on an unreadable byte before the NUL, EINVAL without one. */
function strndupUser(process: Process, addr: bigint, max = 4096): string {
  const bytes: number[] = [];
  while (bytes.length < max) {
    const b = copyFromUser(process, addr + BigInt(bytes.length), 1)[0]!;
    if (b === 0) return String.fromCharCode(...bytes);
    bytes.push(b);
  }
  fail("EINVAL", "strndup_user", "no NUL within PAGE_SIZE");
}

export class GroupFile implements OpenFile {
  readonly kind = "vfio-group" as const;
  private readonly features: KernelFeatures;
  /** The container or iommufd file SET_CONTAINER took a reference on. */
  private userFile: FileHandle<OpenFile> | null = null;

  constructor(
    private readonly kernel: Kernel,
    private readonly vfio: VfioSubsystem,
    readonly group: VfioGroup,
  ) {
    this.features = kernel.features;
    group.openFile();
  }

  ioctl(call: IoctlCall): number {
    switch (call.request) {
      case VFIO_GROUP_GET_STATUS:
        return this.getStatus(call);
      case VFIO_GROUP_SET_CONTAINER:
        return this.setContainer(call);
      case VFIO_GROUP_UNSET_CONTAINER:
        return this.unsetContainer();
      case VFIO_GROUP_GET_DEVICE_FD:
        return this.getDeviceFd(call);
      default:
        fail("ENOTTY", "vfio_group_fops_unl_ioctl", "not a group ioctl");
    }
  }

  /** `vfio_group_ioctl_get_status`. */
  private getStatus(call: IoctlCall): number {
    const op = "vfio_group_ioctl_get_status";
    const minsz = vfioGroupStatus.size;
    const st = vfioGroupStatus.decode(copyFromUser(call.process, call.arg, minsz));
    if (st.argsz < minsz) fail("EINVAL", op, "argsz too small");
    if (this.group.tornDown) fail("ENODEV", op, "IOMMU group gone");
    let flags = 0;
    if (this.group.legacyUser) flags = VFIO_GROUP_FLAGS_CONTAINER_SET | VFIO_GROUP_FLAGS_VIABLE;
    else if (!dmaOwnerClaimed(this.group)) flags = VFIO_GROUP_FLAGS_VIABLE;
    copyToUser(call.process, call.arg, vfioGroupStatus.encode({ argsz: st.argsz, flags }));
    return 0;
  }

  /** `vfio_group_ioctl_set_container`. */
  private setContainer(call: IoctlCall): number {
    const op = "vfio_group_ioctl_set_container";
    const fd = getUserS32(call.process, call.arg);
    const handle = call.process.getHandle(fd); // EBADF
    const group = this.group;
    if (group.legacyUser) fail("EINVAL", op, "group already has a container");
    if (group.tornDown) fail("ENODEV", op, "IOMMU group gone");
    const file = handle.file;
    if (file instanceof ContainerFile) {
      file.container.attachGroup(group);
      group.legacyUser = { kind: "container", container: file.container };
    } else {
      const link = this.features.iommufd ? compatLink(this.kernel) : null;
      const ictx = link?.contextOf(file);
      if (!link || ictx === undefined) {
        fail(this.features.setContainerEbadfd ? "EBADFD" : "EINVAL", op, "not a container or iommufd fd");
      }
      link.ensureCompatIoas(ictx);
      group.legacyUser = { kind: "iommufd", ictx };
    }
    this.userFile = handle.get();
    return 0;
  }

  /** `vfio_group_ioctl_unset_container`. */
  private unsetContainer(): number {
    const op = "vfio_group_ioctl_unset_container";
    const user = this.group.legacyUser;
    if (!user) fail("EINVAL", op, "no container set");
    // type1: the container stays in use while a device fd is open. iommufd: nothing stops it (the
    // open devices stay bound until they close).
    if (user.kind === "container" && this.group.openDeviceCount > 0) fail("EBUSY", op, "device fds open");
    this.detach();
    return 0;
  }

  /** Drop the legacy user (UNSET_CONTAINER or the group file's release). */
  private detach(): void {
    const user = this.group.legacyUser;
    if (!user) return;
    if (user.kind === "container" && user.container instanceof VfioContainer)
      user.container.detachGroup(this.group);
    this.group.legacyUser = null;
    const f = this.userFile;
    this.userFile = null;
    f?.put();
  }

  /** `vfio_group_ioctl_get_device_fd` → `vfio_df_group_open`. */
  private getDeviceFd(call: IoctlCall): number {
    const op = "vfio_group_ioctl_get_device_fd";
    const name = strndupUser(call.process, call.arg);
    const device = this.group.devices.find((d) => d.bdf === name);
    if (!device) fail("ENODEV", op, `no device ${JSON.stringify(name)} in group ${this.group.id}`);
    const user = this.group.legacyUser;
    if (!user) fail("EINVAL", op, "no container set");
    // vfio_allocate_device_file: before the device is opened, nothing to unwind.
    if (shouldFail("vfio.device_file_alloc")) fail("ENOMEM", op, "injected");
    let ictx: object | null = null;
    if (user.kind === "container") {
      if (!(user.container instanceof VfioContainer) || !user.container.backend) {
        fail("EINVAL", op, "container has no IOMMU backend");
      }
    } else {
      ictx = user.ictx;
      if (device.groupOpenCount === 0) {
        const link = compatLink(this.kernel);
        if (!link) fail("ENODEV", op, "no iommufd");
        link.openDevice(ictx, device, call.process);
      }
    }
    const groupHandle = call.process.getHandle(call.fd).get();
    device.groupOpenCount++;
    const file = new GroupDeviceFile(this.kernel, device, groupHandle, ictx);
    try {
      return call.process.installFile(file);
    } catch (e) {
      file.release();
      throw e;
    }
  }

  /** Last reference (the fd and every device fd closed): detach and allow a new open. */
  release(): void {
    this.detach();
    this.group.releaseFile();
    void this.vfio;
  }
}

/** `iommu_group_dma_owner_claimed`: a DMA-API host driver or an iommufd binding owns the group. */
function dmaOwnerClaimed(group: VfioGroup): boolean {
  return !group.viable || group.devices.some((d) => d.iommufdBinding !== null);
}
