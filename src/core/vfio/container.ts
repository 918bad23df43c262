/**
 * The legacy VFIO container (drivers/vfio/container.c): a set of groups and at most one IOMMU
 * backend (type1 here; no sPAPR, no no-IOMMU backend on the modelled hosts).
 *
 * Life cycle: no groups, no backend → groups join (SET_CONTAINER) → SET_IOMMU opens the backend and
 * attaches every group → more groups may join ("hotplug", attached at once) → when the last group
 * leaves, the backend is released with all its mappings and the container is back to "no backend".
 * The container object outlives its fd while groups still hold it.
 */

import { fail } from "../errno.js";
import type { KernelFeatures } from "../kernel.js";
import type { HostParams } from "../topology/types.js";
import type { VfioGroup } from "./subsystem.js";
import { Type1Iommu, type Type1Mode, type Type1Options, type Type1Snapshot } from "./type1.js";

/** SET_IOMMU types type1's open accepts. */
const TYPE1_MODES: ReadonlyMap<number, Type1Mode> = new Map([
  [1, "v1"],
  [3, "v2"],
  [6, "nesting"],
]);

export interface ContainerSnapshot {
  readonly groups: readonly number[];
  readonly backend: Type1Snapshot | null;
}

let nextContainerId = 1;

/** After restoring a saved state: new containers get ids above `id`. */
export function reserveContainerIds(id: number): void {
  if (id >= nextContainerId) nextContainerId = id + 1;
}

export class VfioContainer {
  readonly id = nextContainerId++;
  readonly features: KernelFeatures;
  readonly params: HostParams["type1"];
  readonly options: Type1Options;
  readonly groups: VfioGroup[] = [];
  backend: Type1Iommu | null = null;

  constructor(features: KernelFeatures, params: HostParams["type1"], options: Type1Options = {}) {
    this.features = features;
    this.params = params;
    this.options = options;
  }

  /** `vfio_container_ioctl_check_extension`. */
  checkExtension(ext: number): number {
    // No backend: each registered backend is asked with a null context (type1 is the only one).
    return Type1Iommu.checkExtension(ext, this.backend);
  }

  /** `vfio_ioctl_set_iommu`. */
  setIommu(type: number): void {
    const op = "vfio_ioctl_set_iommu";
    if (this.groups.length === 0 || this.backend !== null) {
      fail("EINVAL", op, this.backend ? "backend already set" : "no group in the container");
    }
    // type1 is tried only if it claims the type with a null context; then its open must accept it.
    if (Type1Iommu.checkExtension(type, null) <= 0) fail("ENODEV", op, `no backend for type ${type}`);
    const mode = TYPE1_MODES.get(type);
    if (mode === undefined) fail("EINVAL", "vfio_iommu_type1_open", `type ${type} not accepted`);
    const ctx = new Type1Iommu(mode, this.features, this.params, this.options);
    const attached: VfioGroup[] = [];
    try {
      for (const g of this.groups) {
        ctx.attachGroup(g);
        attached.push(g);
      }
    } catch (e) {
      ctx.release();
      throw e;
    }
    this.backend = ctx;
  }

  /**
   * `vfio_container_attach_group` after the group-side checks: no-IOMMU and real groups never mix
   * (none here), DMA ownership of the IOMMU group (EPERM when a host driver uses DMA), then the
   * backend attach when one is set.
   */
  attachGroup(group: VfioGroup): void {
    const op = "vfio_container_attach_group";
    if (!group.viable) fail("EPERM", op, `group ${group.id} is not viable (a host driver owns DMA)`);
    if (group.cdevOpenCount > 0) fail("EPERM", op, "DMA owned by a device cdev user");
    this.backend?.attachGroup(group);
    this.groups.push(group);
  }

  /** `vfio_group_detach_container`: the last group releases the backend. */
  detachGroup(group: VfioGroup): void {
    const i = this.groups.indexOf(group);
    if (i < 0) return;
    this.backend?.detachGroup(group);
    this.groups.splice(i, 1);
    if (this.groups.length === 0 && this.backend) {
      this.backend.release();
      this.backend = null;
    }
  }

  snapshot(): ContainerSnapshot {
    return { groups: this.groups.map((g) => g.id), backend: this.backend?.snapshot() ?? null };
  }
}
