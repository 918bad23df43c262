/**
 * The iommufd subsystem's nodes: `/dev/iommu` and the VFIO device cdevs `/dev/vfio/devices/vfioN`,
 * plus the DMA resolver for devices attached through iommufd.
 *
 * The VFIO compat ioctls on an iommufd fd are not handled here: their owner installs a handler with
 * `setVfioCompatHandler(kernel, fn)`; without one they answer ENOTTY.
 */

import { fail } from "../../core/errno.js";
import type { IommuDomain } from "../../core/domain.js";
import { VfioSubsystem } from "../../core/vfio/subsystem.js";
import type { Kernel } from "../system.js";
import { VfioCdevFile } from "../vfio-cdev/file.js";
import { IommufdFile, iommufdContexts } from "./file.js";

export { IommufdFile, iommufdContexts, setVfioCompatHandler, type VfioCompatHandler } from "./file.js";
export { Ucmd } from "./ucmd.js";
export { enableResvIovaRanges, IOMMU_RESV_IOVA_RANGES_EXT, iommuResvIovaRanges } from "./resv-ranges.js";

/** The domain a device's DMA goes through when it is attached through an iommufd context. */
function iommufdDomainOf(kernel: Kernel, bdf: string): IommuDomain | null {
  for (const ctx of iommufdContexts(kernel))
    for (const o of ctx.list()) if (o.kind === "device" && o.pci.bdf === bdf && o.hwpt) return o.hwpt.domain;
  return null;
}

export function register(kernel: Kernel): void {
  // Same service key as the VFIO legacy nodes: one VFIO core per kernel.
  const vfio = kernel.service("vfio", (k) => new VfioSubsystem(k.host));
  kernel.devices.addResolver((bdf) => iommufdDomainOf(kernel, bdf));
  kernel.registerNode(/^\/dev\/iommu$/, (k) => new IommufdFile(k));
  kernel.registerNode(/^\/dev\/vfio\/devices\/vfio(\d+)$/, (_k, _process, path) => {
    const device = vfio.deviceByCdev(path);
    if (!device) fail("ENOENT", "open", `${path} does not exist`);
    return new VfioCdevFile(kernel, vfio, device);
  });
}
