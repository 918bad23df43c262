/**
 * The VFIO legacy nodes: `/dev/vfio/vfio` (container) and `/dev/vfio/<group>` (one per VFIO group of
 * the host), plus the type1 resolver telling the DMA datapath which domain a device translates through.
 */

import { fail } from "../../core/errno.js";
import type { IommuDomain } from "../../core/domain.js";
import { VfioContainer } from "../../core/vfio/container.js";
import { VfioSubsystem } from "../../core/vfio/subsystem.js";
import type { Type1Options } from "../../core/vfio/type1.js";
import type { Kernel } from "../system.js";
import { setCompatLink } from "./compat-link.js";
import { compatDomainOf, compatGroupLink, compatIoctl } from "./compat.js";
import { setVfioCompatHandler } from "../iommufd/file.js";
import { ContainerFile } from "./container.js";
import { GroupFile } from "./group.js";

/** The VFIO core state of a kernel (shared with the device cdev and iommufd compat). */
export function vfioSubsystem(kernel: Kernel): VfioSubsystem {
  return kernel.service("vfio", (k) => new VfioSubsystem(k.host));
}

/** Options for new containers (seed 003 opt-in); default: the kernel's behaviour. */
export function setType1Options(kernel: Kernel, options: Type1Options): void {
  kernel.service<{ options: Type1Options }>("vfio.type1-options", () => ({ options: {} })).options = options;
}

function type1Options(kernel: Kernel): Type1Options {
  return kernel.service<{ options: Type1Options }>("vfio.type1-options", () => ({ options: {} })).options;
}

/** The domain a device's DMA goes through when its group is in a type1 container. */
function type1DomainOf(vfio: VfioSubsystem, bdf: string): IommuDomain | null {
  const user = vfio.device(bdf)?.group.legacyUser;
  if (!user || user.kind !== "container" || !(user.container instanceof VfioContainer)) return null;
  const group = vfio.device(bdf)!.group;
  return user.container.backend?.domains.find((d) => d.groups.includes(group))?.domain ?? null;
}

export { compatIoctl } from "./compat.js";

export function register(kernel: Kernel): void {
  const vfio = vfioSubsystem(kernel);
  if (kernel.features.iommufd) {
    // Container ioctls on an iommufd fd (nr < 0x80 or past the native table) are VFIO compat.
    setCompatLink(kernel, compatGroupLink);
    setVfioCompatHandler(kernel, (file, call) => compatIoctl(kernel, file.ctx, call));
  }
  kernel.devices.addResolver((bdf) => type1DomainOf(vfio, bdf) ?? compatDomainOf(vfio.device(bdf)));
  kernel.registerNode(/^\/dev\/vfio\/vfio$/, (k) => new ContainerFile(k, type1Options(k)));
  kernel.registerNode(/^\/dev\/vfio\/(\d+)$/, (k, _process, path, match) => {
    const group = vfio.group(Number(match[1]));
    if (!group) fail("ENOENT", "open", `${path} does not exist`);
    return new GroupFile(k, vfio, group);
  });
}
