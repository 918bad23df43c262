/**
 * The device nodes of a default system: each subsystem registers its nodes on a new kernel.
 *
 * Plug-in point for the subsystem engineers: a subsystem exports `register(kernel: Kernel): void`
 * from its `index.ts`, which calls `kernel.registerNode(/^\/dev\/…$/, opener)` for each node it
 * owns, and is listed below. `Kernel.open` already hides /dev/iommu on kernels without iommufd and
 * /dev/vfio/devices/* on hosts without the VFIO device cdev.
 *
 *   - src/uapi/iommufd/index.ts (helper-3): /dev/iommu
 *   - src/uapi/vfio/index.ts (helper-4): /dev/vfio/vfio, /dev/vfio/<group>, /dev/vfio/devices/vfioN
 */

import type { Kernel } from "./system.js";
// SUBSYSTEM IMPORTS — uncomment when the module exists:
import { register as registerIommufd } from "./iommufd/index.js";
import { register as registerVfio } from "./vfio/index.js";

/** Registration functions, in order (later registrations win on overlapping paths). */
const SUBSYSTEMS: readonly ((kernel: Kernel) => void)[] = [registerIommufd, registerVfio];

export function registerDefaultNodes(kernel: Kernel): void {
  for (const register of SUBSYSTEMS) register(kernel);
}
