/**
 * VFIO core state shared by the legacy container (type1), iommufd's VFIO compat and the device cdev.
 *
 * Terms:
 * - group: a VFIO group (`/dev/vfio/N`), created for an IOMMU group as soon as one of its devices is
 *   bound to a VFIO driver. One open file at a time (`vfio_group_fops_open` → EBUSY).
 * - legacy user: what SET_CONTAINER attached the group to — a VFIO container or an iommufd context.
 *   While set, the group owns DMA for all its devices (`iommu_group_claim_dma_owner`).
 * - viable: no device of the group is bound to a host driver that uses the DMA API; only such a group
 *   may be given to userspace.
 * - device opens: device fds obtained through the group (GET_DEVICE_FD) and through the cdev are
 *   counted apart; the two paths exclude each other (group open vs cdev open → EBUSY).
 *
 * This module knows nothing about containers or iommufd objects: it stores the legacy user and the
 * iommufd binding as opaque references owned by those modules.
 */

import { fail } from "../errno.js";
import type { Host, IommuGroup, IommuUnit, PciDevice } from "../topology/types.js";

/**
 * Drivers whose binding leaves DMA ownership to userspace (`driver_managed_dma` or a VFIO driver):
 * a group whose devices are all unbound or bound to one of these is viable.
 */
const DMA_SAFE_DRIVERS: ReadonlySet<string> = new Set([
  "vfio-pci",
  "vfio_pci",
  "pci-stub",
  "pcieport",
  "vfio-platform",
  "vfio-mdev",
]);

/** A device bound to one of these makes its group appear as /dev/vfio/N. */
export function isVfioDriver(driver: string | null): boolean {
  return driver !== null && (driver.startsWith("vfio") || driver.endsWith("-vfio-pci"));
}

function isDmaSafeDriver(driver: string | null): boolean {
  return driver === null || DMA_SAFE_DRIVERS.has(driver) || isVfioDriver(driver);
}

/** The container a group was attached to by SET_CONTAINER (opaque here; see container.ts). */
export interface LegacyContainerUser {
  readonly kind: "container";
  readonly container: object;
}

/** The iommufd context a group was attached to by SET_CONTAINER(iommufd fd) (compat mode). */
export interface LegacyIommufdUser {
  readonly kind: "iommufd";
  readonly ictx: object;
}

export type LegacyUser = LegacyContainerUser | LegacyIommufdUser;

export class VfioDevice {
  readonly bdf: string;
  readonly pci: PciDevice;
  readonly group: VfioGroup;
  /** The IOMMU unit translating this device (null for emulated / no-IOMMU devices). */
  readonly iommu: IommuUnit | null;
  /** Emulated (mdev-style): pins through an access, never owns a domain. */
  readonly emulated: boolean;
  /** Device fds open through the group's GET_DEVICE_FD. */
  groupOpenCount = 0;
  /** Open files of the device cdev (/dev/vfio/devices/vfioN). */
  cdevOpenCount = 0;
  /** iommufd binding (iommufd_device + attach state); owned by core/iommufd and the cdev code. */
  iommufdBinding: unknown = null;

  constructor(pci: PciDevice, group: VfioGroup, iommu: IommuUnit | null) {
    this.bdf = pci.bdf;
    this.pci = pci;
    this.group = group;
    this.iommu = iommu;
    this.emulated = pci.emulated === true;
  }

  /** Any fd of this device is open, whichever the path. */
  get isOpen(): boolean {
    return this.groupOpenCount > 0 || this.cdevOpenCount > 0;
  }
}

export class VfioGroup {
  readonly id: number;
  readonly iommuGroup: IommuGroup;
  readonly devices: VfioDevice[] = [];
  /** `/dev/vfio/N`. */
  readonly path: string;
  /** The group file is open (only one open file at a time). */
  fileOpen = false;
  /** Set by SET_CONTAINER, cleared by UNSET_CONTAINER / group file release. */
  legacyUser: LegacyUser | null = null;
  /** The IOMMU group was torn down under an open group file (GET_STATUS → ENODEV). */
  tornDown = false;

  constructor(iommuGroup: IommuGroup) {
    this.id = iommuGroup.id;
    this.iommuGroup = iommuGroup;
    this.path = `/dev/vfio/${iommuGroup.id}`;
  }

  /** No device of the group is driven by a DMA-API host driver (`vfio_group_viable`). */
  get viable(): boolean {
    return this.devices.every((d) => isDmaSafeDriver(d.pci.driver));
  }

  /** Every device of the group is emulated (pins through VFIO, no IOMMU domain). */
  get emulated(): boolean {
    return this.devices.length > 0 && this.devices.every((d) => d.emulated);
  }

  /** Device fds open through this group (UNSET_CONTAINER refuses with EBUSY while > 0). */
  get openDeviceCount(): number {
    return this.devices.reduce((n, d) => n + d.groupOpenCount, 0);
  }

  /** Devices of this group opened through their cdev. */
  get cdevOpenCount(): number {
    return this.devices.reduce((n, d) => n + d.cdevOpenCount, 0);
  }

  /** The IOMMU units of the group's non-emulated devices (normally one). */
  get iommus(): IommuUnit[] {
    const units: IommuUnit[] = [];
    for (const d of this.devices) if (d.iommu && !units.includes(d.iommu)) units.push(d.iommu);
    return units;
  }

  device(bdf: string): VfioDevice | undefined {
    return this.devices.find((d) => d.bdf === bdf);
  }

  /**
   * Open the group file (`vfio_group_fops_open`): one opener at a time, and never while a device of
   * the group is open through its cdev.
   */
  openFile(): void {
    if (this.fileOpen) fail("EBUSY", "vfio_group_open", `group ${this.id} already open`);
    if (this.cdevOpenCount > 0) fail("EBUSY", "vfio_group_open", "device open through its cdev");
    this.fileOpen = true;
  }

  /** The group file's release; the caller detaches the legacy user first. */
  releaseFile(): void {
    this.fileOpen = false;
  }

  snapshot(): VfioGroupSnapshot {
    return {
      id: this.id,
      fileOpen: this.fileOpen,
      legacyUser: this.legacyUser?.kind ?? null,
      viable: this.viable,
      devices: this.devices.map((d) => ({
        bdf: d.bdf,
        groupOpenCount: d.groupOpenCount,
        cdevOpenCount: d.cdevOpenCount,
        bound: d.iommufdBinding !== null,
        emulated: d.emulated,
      })),
    };
  }
}

export interface VfioGroupSnapshot {
  readonly id: number;
  readonly fileOpen: boolean;
  readonly legacyUser: LegacyUser["kind"] | null;
  readonly viable: boolean;
  readonly devices: readonly {
    readonly bdf: string;
    readonly groupOpenCount: number;
    readonly cdevOpenCount: number;
    readonly bound: boolean;
    readonly emulated: boolean;
  }[];
}

/** All VFIO groups and devices of a host. */
export class VfioSubsystem {
  readonly host: Host;
  private readonly groupsById = new Map<number, VfioGroup>();
  private readonly devicesByBdf = new Map<string, VfioDevice>();

  constructor(host: Host) {
    this.host = host;
    const units = new Map(host.iommus.map((u) => [u.name, u]));
    const pciByBdf = new Map(host.devices.map((d) => [d.bdf, d]));
    for (const ig of host.groups) {
      const members = ig.devices
        .map((bdf) => pciByBdf.get(bdf))
        .filter((d): d is PciDevice => d !== undefined);
      if (!members.some((d) => isVfioDriver(d.driver))) continue;
      const group = new VfioGroup(ig);
      for (const pci of members) {
        const iommu = pci.emulated || pci.iommu === null ? null : (units.get(pci.iommu) ?? null);
        const dev = new VfioDevice(pci, group, iommu);
        group.devices.push(dev);
        this.devicesByBdf.set(dev.bdf, dev);
      }
      this.groupsById.set(group.id, group);
    }
  }

  get groups(): VfioGroup[] {
    return [...this.groupsById.values()].sort((a, b) => a.id - b.id);
  }

  group(id: number): VfioGroup | undefined {
    return this.groupsById.get(id);
  }

  device(bdf: string): VfioDevice | undefined {
    return this.devicesByBdf.get(bdf);
  }

  /** The device a cdev path (/dev/vfio/devices/vfioN) names. */
  deviceByCdev(path: string): VfioDevice | undefined {
    for (const d of this.devicesByBdf.values()) if (d.pci.cdev === path) return d;
    return undefined;
  }

  snapshot(): VfioGroupSnapshot[] {
    return this.groups.map((g) => g.snapshot());
  }
}
