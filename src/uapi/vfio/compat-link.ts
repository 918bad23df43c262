/**
 * What the VFIO group file needs from iommufd when SET_CONTAINER is given an iommufd fd (the
 * group's "legacy user" is then an iommufd context, semantics.md §1.2 and §3 rows 3–7).
 *
 * The group code only sees this interface; `compat.ts` implements it on top of core/iommufd and
 * installs it with `setCompatLink` when the iommufd subsystem is present.
 */

import type { VfioDevice } from "../../core/vfio/subsystem.js";
import type { Process } from "../../process/process.js";
import type { OpenFile } from "../file.js";
import type { Kernel } from "../system.js";

export interface CompatLink {
  /** The iommufd context behind `file`, or undefined when it is not an iommufd file. */
  contextOf(file: OpenFile): object | undefined;
  /** `iommufd_vfio_compat_ioas_create`: make sure the context has a compat IOAS. */
  ensureCompatIoas(ictx: object): void;
  /**
   * First open of a device through its group in compat mode: bind it to `ictx` (`iommufd_device_bind`:
   * EPERM for unsafe interrupts / DMA ownership) and attach it to the compat IOAS (ENODEV without
   * one; EADDRINUSE for reserved-region conflicts).
   */
  openDevice(ictx: object, device: VfioDevice, process: Process): void;
  /** Last close of such a device: detach and unbind. Never fails. */
  closeDevice(ictx: object, device: VfioDevice): void;
}

const KEY = "vfio.compat-link";

export function setCompatLink(kernel: Kernel, link: CompatLink): void {
  const holder = kernel.service<{ link: CompatLink | null }>(KEY, () => ({ link: null }));
  holder.link = link;
}

export function compatLink(kernel: Kernel): CompatLink | null {
  return kernel.service<{ link: CompatLink | null }>(KEY, () => ({ link: null })).link;
}
