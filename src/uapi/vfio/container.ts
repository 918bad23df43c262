/**
 * `/dev/vfio/vfio`: the legacy container file (container.c `vfio_fops_unl_ioctl`).
 *
 * GET_API_VERSION, CHECK_EXTENSION and SET_IOMMU belong to the container; everything else goes to
 * the backend — EINVAL while there is none, then type1's own ENOTTY for numbers it does not know.
 */

import { fail } from "../../core/errno.js";
import { shouldFail } from "../../core/fault.js";
import type { KernelFeatures } from "../../core/kernel.js";
import { VfioContainer } from "../../core/vfio/container.js";
import type { Type1Options } from "../../core/vfio/type1.js";
import type { IoctlCall, OpenFile } from "../file.js";
import { VFIO_CHECK_EXTENSION, VFIO_GET_API_VERSION, VFIO_SET_IOMMU } from "../numbers.js";
import type { Kernel } from "../system.js";
import { type1Ioctl } from "./type1-ioctl.js";

/** `VFIO_API_VERSION`. */
export const VFIO_API_VERSION = 0;

/** An ioctl argument passed by value, as the kernel's `unsigned long` compared with small ids. */
export function argAsId(arg: bigint): number {
  const v = BigInt.asUintN(64, arg);
  return v > 0xffff_ffffn ? -1 : Number(v);
}

export class ContainerFile implements OpenFile {
  readonly kind = "vfio-container" as const;
  readonly container: VfioContainer;
  private readonly features: KernelFeatures;

  constructor(kernel: Kernel, options: Type1Options = {}) {
    // vfio_fops_open: the container allocation.
    if (shouldFail("vfio.container_alloc")) fail("ENOMEM", "vfio_fops_open", "injected");
    this.features = kernel.features;
    this.container = new VfioContainer(kernel.features, kernel.host.params.type1, options);
  }

  ioctl(call: IoctlCall): number {
    switch (call.request) {
      case VFIO_GET_API_VERSION:
        return VFIO_API_VERSION;
      case VFIO_CHECK_EXTENSION:
        return this.container.checkExtension(argAsId(call.arg));
      case VFIO_SET_IOMMU:
        this.container.setIommu(argAsId(call.arg));
        return 0;
      default: {
        const backend = this.container.backend;
        if (!backend) fail("EINVAL", "vfio_fops_unl_ioctl", "no IOMMU backend set");
        return type1Ioctl(backend, this.features, call);
      }
    }
  }

  /**
   * The fd's last reference. The container object lives on while groups hold it (they keep its
   * backend and mappings); with no group there is nothing to release.
   */
  release(): void {}
}
