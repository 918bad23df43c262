/**
 * The iommufd context behind one open `/dev/iommu` (struct iommufd_ctx) and its typed API.
 *
 * Terms:
 *   object     an entry of the per-fd table: IOAS, paging HWPT, device (idev) or access. Ids are the
 *              lowest free integer ≥ 1 (31-bit), reserved at allocation, published at the end of a
 *              successful creation and freed again on failure, so failed creations leave no gaps.
 *   igroup     the context's view of one IOMMU group: which HWPT the group is attached to and which
 *              bound devices are attached through it.
 *   auto HWPT  a paging HWPT created by attaching a device to an IOAS id; destroyed with its last
 *              device (§2.10).
 *
 * Every method validates in the kernel's order (flags/reserved → overflow → permissions → object
 * lookup → work) and throws `IoasError`. A failing call leaves objects, ids, mappings, reservations,
 * pins and accounting as they were, except the documented partial effect of the range unmap
 * (`unmapIova`, semantics.md Appendix B.1).
 */

import { HOST_MSI_DOORBELL } from "../dma/doorbell.js";
import { IommuDomain } from "../domain.js";
import { fail, IoasError } from "../errno.js";
import { shouldFail } from "../fault.js";
import { subtract, totalLength, type IovaRange } from "../ranges.js";
import type { Host, IommuUnit, PciDevice } from "../topology/types.js";
import { PAGE_SIZE, U64_MAX, ULONG_MAX, smallBigint } from "../u64.js";
import type { Area, AreaHolder } from "./area-table.js";
import { IoPagetable, type IoptAccess, type ReservedOwner, type UnmapResult } from "./io-pagetable.js";
import { IoptPages, type PinSource } from "./pages.js";
import type { BackingSegment } from "../domain.js";

export type ObjectKind = "ioas" | "hwpt_paging" | "device" | "access";

export const IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0;
export const IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1;
export const IOMMU_HWPT_FAULT_ID_VALID = 1 << 2;

export const IOMMU_HW_INFO_TYPE_NONE = 0;
export const IOMMU_HW_INFO_TYPE_INTEL_VTD = 1;
export const IOMMU_HW_CAP_DIRTY_TRACKING = 1n;

/** 31-bit id space of the object xarray. */
const MAX_OBJECT_ID = 0x7fff_ffff;

export class IoasObject {
  readonly kind = "ioas" as const;
  readonly iopt: IoPagetable;
  /** Paging HWPTs on this IOAS, in creation order (`ioas->hwpt_list`). */
  readonly hwpts: HwptPaging[] = [];
  readonly accesses = new Set<AccessObject>();
  constructor(
    readonly id: number,
    thpSize: bigint,
  ) {
    this.iopt = new IoPagetable({ thpSize });
  }
}

export class HwptPaging implements ReservedOwner {
  readonly kind = "hwpt_paging" as const;
  autoDomain = false;
  /** The domain blocks no-snoop (upgraded when a device that needs it attaches). */
  enforceCacheCoherency = false;
  /** Devices attached (through their group) to this HWPT. */
  readonly devices = new Set<DeviceObject>();
  constructor(
    readonly id: number,
    readonly ioas: IoasObject,
    readonly domain: IommuDomain,
    readonly nestParent: boolean,
    /** Allocated with DIRTY_TRACKING: the domain has dirty ops. */
    readonly dirtyOps: boolean,
  ) {}
  get label(): string {
    return `hwpt ${this.id}`;
  }
}

export class IGroup {
  hwpt: HwptPaging | null = null;
  readonly devices = new Set<DeviceObject>();
  /** Start of the software MSI window, for the doorbell cookie (sw_msi_start). */
  swMsiStart: bigint | undefined;
  constructor(readonly groupId: number) {}
}

export class DeviceObject implements ReservedOwner {
  readonly kind = "device" as const;
  /** Attached HWPT (via the group), or null. */
  hwpt: HwptPaging | null = null;
  constructor(
    readonly id: number,
    readonly pci: PciDevice,
    readonly unit: IommuUnit,
    readonly igroup: IGroup,
    /** device_iommu_capable(ENFORCE_CACHE_COHERENCY). */
    readonly enforceCacheCoherency: boolean,
  ) {}
  get label(): string {
    return `device ${this.id} (${this.pci.bdf})`;
  }
}

/** Callbacks of an emulated device driver using an access. */
export interface AccessOps {
  /** The IOAS unmaps [iova, iova + length): drop every pin there (call `accessUnpin`). */
  unmap(iova: bigint, length: bigint): void;
}

interface AccessPin {
  readonly iova: bigint;
  readonly length: bigint;
  /** Per area pinned: its store, the area (its access count), the pin's holder in the store. */
  readonly slices: { pages: IoptPages; area: AreaHolder; holder: object }[];
}

export class AccessObject implements IoptAccess {
  readonly kind = "access" as const;
  ioas: IoasObject | null = null;
  readonly pins: AccessPin[] = [];
  constructor(
    readonly id: number,
    readonly ops: AccessOps,
    /** Pins pages (mdev "needs pin"): the IOAS alignment rises to PAGE_SIZE. */
    readonly needsPin: boolean,
  ) {}
  get iovaAlignment(): bigint {
    return this.needsPin ? PAGE_SIZE : 1n;
  }
  notifyUnmap(iova: bigint, length: bigint): void {
    const last = iova + length - 1n;
    if (this.pins.some((p) => p.iova <= last && iova <= p.iova + p.length - 1n)) this.ops.unmap(iova, length);
  }
}

export type IommufdObject = IoasObject | HwptPaging | DeviceObject | AccessObject;

/** DMA ownership of IOMMU groups per host: one iommufd context (or other owner) at a time. */
const dmaOwners = new WeakMap<Host, Map<number, { owner: object; count: number }>>();

/** The group → DMA owner table of a host (state save/restore). */
export function dmaOwnerTable(host: Host): Map<number, { owner: object; count: number }> {
  let m = dmaOwners.get(host);
  if (!m) dmaOwners.set(host, (m = new Map()));
  return m;
}

export function claimDmaOwner(host: Host, groupId: number, owner: object, op: string): void {
  let m = dmaOwners.get(host);
  if (!m) dmaOwners.set(host, (m = new Map()));
  const cur = m.get(groupId);
  if (cur && cur.owner !== owner) fail("EBUSY", op, `IOMMU group ${groupId} is owned by another user`);
  if (cur) cur.count++;
  else m.set(groupId, { owner, count: 1 });
}

export function releaseDmaOwner(host: Host, groupId: number, owner: object): void {
  const cur = dmaOwners.get(host)?.get(groupId);
  if (!cur || cur.owner !== owner) return;
  if (--cur.count === 0) dmaOwners.get(host)!.delete(groupId);
}

/** Input ranges, read lazily in order (arrays qualify). */
export interface RangeSource {
  readonly length: number;
  at(i: number): IovaRange | undefined;
}

export interface MapRequest {
  readonly userVa: bigint;
  readonly length: bigint;
  /** Fixed IOVA; undefined = allocate one. */
  readonly iova?: bigint;
  readonly read: boolean;
  readonly write: boolean;
}

export interface CopyRequest {
  readonly length: bigint;
  readonly srcIova: bigint;
  /** Fixed destination IOVA; undefined = allocate one. */
  readonly dstIova?: bigint;
  readonly read: boolean;
  readonly write: boolean;
}

export interface HwInfo {
  readonly dataType: number;
  /** The driver's payload (VT-d: flags, reserved, cap_reg, ecap_reg — 24 bytes). */
  readonly data: Uint8Array;
  readonly capabilities: bigint;
}

export interface IommufdContextOptions {
  /** "mm" for contexts opened as iommufd's /dev/vfio/vfio (VFIO-style accounting). */
  readonly accountMode?: "user" | "mm";
}

// ---- snapshot (plain JSON) ----

export interface IommufdSnapshot {
  readonly accountMode: "user" | "mm";
  readonly vfioIoas: number | null;
  readonly objects: readonly ObjectSnapshot[];
  readonly pages: readonly {
    readonly label: string;
    readonly pinned: readonly string[];
    readonly charged: string;
  }[];
}

export type ObjectSnapshot =
  | {
      readonly id: number;
      readonly kind: "ioas";
      readonly alignment: string;
      readonly largePages: boolean;
      readonly areas: readonly {
        readonly iova: string;
        readonly last: string;
        readonly pages: string;
        readonly startByte: string;
        readonly prot: string;
        readonly accesses: number;
      }[];
      readonly allowed: readonly string[];
      readonly reserved: readonly string[];
      readonly domains: readonly number[];
      readonly hwpts: readonly number[];
    }
  | {
      readonly id: number;
      readonly kind: "hwpt_paging";
      readonly ioas: number;
      readonly auto: boolean;
      readonly devices: readonly number[];
      readonly enforceCacheCoherency: boolean;
      readonly translations: readonly string[];
      readonly aperture: string;
    }
  | { readonly id: number; readonly kind: "device"; readonly bdf: string; readonly hwpt: number | null }
  | { readonly id: number; readonly kind: "access"; readonly ioas: number | null; readonly pins: number };

const hexs = (v: bigint): string => "0x" + v.toString(16);
const rangeText = (r: IovaRange): string => `${hexs(r.start)}-${hexs(r.last)}`;

export class IommufdContext {
  readonly host: Host;
  accountMode: "user" | "mm";
  /** The IOAS the VFIO compat ioctls work on (IOMMU_VFIO_IOAS). */
  private vfioIoas: IoasObject | null = null;
  /** Object table: undefined value = id reserved by a creation in progress. */
  private readonly objects = new Map<number, IommufdObject | undefined>();
  private readonly igroups = new Map<number, IGroup>();
  private closed = false;

  constructor(host: Host, opts: IommufdContextOptions = {}) {
    this.host = host;
    this.accountMode = opts.accountMode ?? "user";
  }

  // ---- object table ----

  /** Reserve the lowest free id ≥ 1 (xa_alloc); ENOSPC when the 31-bit space is full. */
  private allocId(op: string): number {
    if (shouldFail("iommufd.object_alloc")) fail("ENOMEM", op, "injected: object allocation");
    let id = 1;
    while (this.objects.has(id)) id++;
    if (id > MAX_OBJECT_ID) fail("ENOSPC", op, "object ids exhausted");
    this.objects.set(id, undefined);
    return id;
  }

  private publish(obj: IommufdObject): void {
    this.objects.set(obj.id, obj);
  }

  private abortId(id: number): void {
    this.objects.delete(id);
  }

  /** iommufd_get_object with a type: unknown, unpublished or other-typed ids are ENOENT. */
  private get<K extends ObjectKind>(id: number, kind: K, op: string): Extract<IommufdObject, { kind: K }> {
    const o = this.objects.get(id);
    if (!o || o.kind !== kind) fail("ENOENT", op, `no ${kind} with id ${id}`);
    return o as Extract<IommufdObject, { kind: K }>;
  }

  private getAny(id: number, op: string): IommufdObject {
    const o = this.objects.get(id);
    if (!o) fail("ENOENT", op, `no object with id ${id}`);
    return o;
  }

  /** Published objects, ascending id. */
  list(): IommufdObject[] {
    return [...this.objects.values()]
      .filter((o): o is IommufdObject => o !== undefined)
      .sort((a, b) => a.id - b.id);
  }

  object(id: number): IommufdObject | undefined {
    return this.objects.get(id);
  }

  get isEmpty(): boolean {
    return this.objects.size === 0;
  }

  ioas(id: number, op = "iommufd_get_ioas"): IoasObject {
    return this.get(id, "ioas", op);
  }

  hwpt(id: number, op = "iommufd_get_hwpt"): HwptPaging {
    return this.get(id, "hwpt_paging", op);
  }

  device(id: number, op = "iommufd_get_device"): DeviceObject {
    return this.get(id, "device", op);
  }

  /** IOMMU_DESTROY: ENOENT for unknown ids; EBUSY while the object is referenced. */
  destroy(id: number): void {
    const op = "IOMMU_DESTROY";
    const obj = this.getAny(id, op);
    switch (obj.kind) {
      case "ioas":
        if (obj.hwpts.length > 0 || obj.accesses.size > 0) fail("EBUSY", op, "IOAS has HWPTs or accesses");
        this.destroyIoas(obj);
        break;
      case "hwpt_paging":
        if (obj.devices.size > 0) fail("EBUSY", op, "HWPT has attached devices");
        this.destroyHwpt(obj);
        break;
      case "device":
        // The VFIO driver holds the idev until unbind.
        return fail("EBUSY", op, "device objects are destroyed by unbind");
      case "access":
        fail("EBUSY", op, "access objects are destroyed by their driver");
    }
  }

  private destroyIoas(ioas: IoasObject): void {
    if (this.vfioIoas === ioas) this.vfioIoas = null;
    ioas.iopt.destroy();
    this.objects.delete(ioas.id);
  }

  private destroyHwpt(hwpt: HwptPaging): void {
    const list = hwpt.ioas.hwpts;
    const i = list.indexOf(hwpt);
    if (i >= 0) {
      list.splice(i, 1);
      hwpt.ioas.iopt.removeDomain(hwpt.domain, hwpt);
    }
    this.objects.delete(hwpt.id);
  }

  /** The fd's release: devices are unbound by their drivers first, then everything goes. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const o of this.list()) if (o.kind === "device") this.unbindDevice(o.id);
    for (const o of this.list()) if (o.kind === "access") this.accessDestroy(o.id);
    for (const o of this.list()) if (o.kind === "hwpt_paging") this.destroyHwpt(o);
    for (const o of this.list()) if (o.kind === "ioas") this.destroyIoas(o);
    this.vfioIoas = null;
  }

  // ---- IOAS ----

  /** IOMMU_IOAS_ALLOC. */
  ioasAlloc(): number {
    const id = this.allocId("IOMMU_IOAS_ALLOC");
    this.publish(new IoasObject(id, this.host.params.thpSize));
    return id;
  }

  private pinSourceMode(source: PinSource): "none" | "user" | "mm" {
    return source.capIpcLock ? "none" : this.accountMode;
  }

  /** IOMMU_IOAS_MAP (steps 2–9 of semantics.md §1.4.2): returns the IOVA. */
  ioasMap(ioasId: number, req: MapRequest, source: PinSource): bigint {
    const op = "IOMMU_IOAS_MAP";
    if ((req.iova ?? 0n) >= ULONG_MAX || req.length >= ULONG_MAX)
      fail("EOVERFLOW", op, "iova or length does not fit in unsigned long");
    if (!req.read && !req.write) fail("EINVAL", op, "neither READABLE nor WRITEABLE");
    return this.mapUser(this.ioas(ioasId, op), req, source, op);
  }

  /**
   * iopt_map_user_pages on `ioas`: the io-pagetable part of MAP, shared with the compat MAP_DMA
   * (which starts here: no R/W check).
   */
  mapUser(ioas: IoasObject, req: MapRequest, source: PinSource, op = "iopt_map_user_pages"): bigint {
    const { userVa, length } = req;
    if (length === 0n || length > ULONG_MAX - PAGE_SIZE) fail("EINVAL", op, "bad length");
    if (userVa + length > U64_MAX) fail("EOVERFLOW", op, "user VA range wraps");
    if (shouldFail("iopt.pages_alloc")) fail("ENOMEM", op, "injected: pages allocation");
    // Page-aligned VAs (the common case) share the caller's bigint; small counts share a constant.
    const inPage = userVa % PAGE_SIZE;
    const uptr = inPage === 0n ? userVa : userVa - inPage;
    const startByte = smallBigint(inPage);
    // The new store: kept in the area's row until something must share it (AreaTable).
    const pages = { uptr, writable: req.write, accountMode: this.pinSourceMode(source), source };
    return ioas.iopt.mapPages(
      [{ pages, startByte, length }],
      length,
      req.iova,
      userVa,
      req.read,
      req.write,
      op,
    );
  }

  /** IOMMU_IOAS_COPY: share the source's pages at a new IOVA of the destination. */
  ioasCopy(dstIoasId: number, srcIoasId: number, req: CopyRequest): bigint {
    const op = "IOMMU_IOAS_COPY";
    if (req.length >= ULONG_MAX || req.srcIova >= ULONG_MAX || (req.dstIova ?? 0n) >= ULONG_MAX)
      fail("EOVERFLOW", op, "length or IOVA does not fit in unsigned long");
    if (!req.read && !req.write) fail("EINVAL", op, "neither READABLE nor WRITEABLE");
    const src = this.ioas(srcIoasId, op);
    if (req.length === 0n) fail("EINVAL", op, "length 0");
    const slices = src.iopt.getPages(req.srcIova, req.length, op);
    const dst = this.ioas(dstIoasId, op);
    const first = slices[0]!;
    return dst.iopt.mapPages(
      slices,
      req.length,
      req.dstIova,
      first.pages.uptr + first.startByte,
      req.read,
      req.write,
      op,
    );
  }

  /**
   * Range unmap (iopt_unmap_iova): areas fully inside [iova, iova + length - 1]. Returns the bytes
   * removed and, on failure, the error — areas removed before an ENOENT stay removed (the kernel's
   * partial effect). Argument errors (EINVAL length 0, EOVERFLOW) come back as `error` with 0 bytes.
   */
  unmapIova(ioasId: number, iova: bigint, length: bigint, op = "IOMMU_IOAS_UNMAP"): UnmapResult {
    const ioas = this.ioas(ioasId, op);
    return this.unmapIovaIn(ioas, iova, length, op);
  }

  unmapIovaIn(ioas: IoasObject, iova: bigint, length: bigint, op = "iopt_unmap_iova"): UnmapResult {
    if (length === 0n) return { unmapped: 0n, error: new IoasError("EINVAL", op, "length 0") };
    if (iova + length - 1n > ULONG_MAX)
      return { unmapped: 0n, error: new IoasError("EOVERFLOW", op, "range wraps") };
    return ioas.iopt.unmapRange(iova, iova + length - 1n, op);
  }

  /** Unmap everything (the (0, U64_MAX) encoding): success even when nothing is mapped. */
  unmapAllIn(ioas: IoasObject, op = "iopt_unmap_all"): UnmapResult {
    const r = ioas.iopt.unmapRange(0n, ULONG_MAX, op);
    if (r.error?.errno === "ENOENT") return { unmapped: r.unmapped };
    return r;
  }

  /** IOMMU_IOAS_UNMAP as the ioctl does it; throws (with `detail.unmapped`) on failure. */
  ioasUnmap(ioasId: number, iova: bigint, length: bigint): bigint {
    const op = "IOMMU_IOAS_UNMAP";
    const ioas = this.ioas(ioasId, op);
    let r: UnmapResult;
    if (iova === 0n && length === U64_MAX) r = this.unmapAllIn(ioas, op);
    else if (iova >= ULONG_MAX || length >= ULONG_MAX) fail("EOVERFLOW", op, "iova or length too large");
    else r = this.unmapIovaIn(ioas, iova, length, op);
    if (r.error) throw new IoasError(r.error.errno, op, r.error.message, { unmapped: r.unmapped });
    return r.unmapped;
  }

  /**
   * IOMMU_IOAS_ALLOW_IOVAS: ranges are loaded one at a time in input order (a reader may throw
   * EFAULT), each checked before the next is read; then the list replaces the old one atomically.
   */
  ioasAllowIovas(ioasId: number, ranges: RangeSource): void {
    const op = "IOMMU_IOAS_ALLOW_IOVAS";
    const ioas = this.ioas(ioasId, op);
    const loaded: IovaRange[] = [];
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges.at(i);
      if (!r) fail("EFAULT", op, `range ${i} unreadable`);
      if (r.start >= r.last) fail("EINVAL", op, "start >= last");
      if (loaded.some((l) => l.start <= r.last && r.start <= l.last))
        fail("EINVAL", op, "overlapping ranges");
      if (shouldFail("iopt.allowed_alloc")) fail("ENOMEM", op, "injected: allowed range allocation");
      loaded.push({ start: r.start, last: r.last });
    }
    ioas.iopt.setAllowed(loaded, op);
  }

  /** IOMMU_IOAS_IOVA_RANGES: holes of the reserved set and the current alignment. */
  ioasIovaRanges(ioasId: number): { ranges: IovaRange[]; alignment: bigint } {
    const ioas = this.ioas(ioasId, "IOMMU_IOAS_IOVA_RANGES");
    return { ranges: ioas.iopt.iovaRanges(), alignment: ioas.iopt.iovaAlignment };
  }

  // ---- options ----

  /** OPTION RLIMIT_MODE GET: true = per-mm (VFIO style). */
  getRlimitModeMm(): boolean {
    return this.accountMode === "mm";
  }

  /** OPTION RLIMIT_MODE SET: CAP_SYS_RESOURCE (EPERM), no objects (EBUSY), value 0/1 (EINVAL). */
  setRlimitMode(value: bigint, capSysResource: boolean): void {
    const op = "IOMMU_OPTION";
    if (!capSysResource) fail("EPERM", op, "needs CAP_SYS_RESOURCE");
    if (!this.isEmpty) fail("EBUSY", op, "objects exist");
    if (value === 0n) this.accountMode = "user";
    else if (value === 1n) this.accountMode = "mm";
    else fail("EINVAL", op, "value must be 0 or 1");
  }

  getHugePages(ioasId: number): boolean {
    return !this.ioas(ioasId, "IOMMU_OPTION").iopt.disableLargePages;
  }

  /** OPTION HUGE_PAGES SET (also compat SET_IOMMU TYPE1 with `false`). */
  setHugePages(ioasId: number, enable: boolean): void {
    this.setHugePagesIn(this.ioas(ioasId, "IOMMU_OPTION"), enable);
  }

  setHugePagesIn(ioas: IoasObject, enable: boolean, op = "IOMMU_OPTION"): void {
    ioas.iopt.setLargePages(enable, op);
  }

  // ---- VFIO compat IOAS ----

  /** IOMMU_VFIO_IOAS GET: ENODEV when none. */
  getVfioIoas(): number {
    if (!this.vfioIoas) fail("ENODEV", "IOMMU_VFIO_IOAS", "no compat IOAS");
    return this.vfioIoas.id;
  }

  /** The compat IOAS object, or undefined (compat handlers answer ENODEV). */
  compatIoas(): IoasObject | undefined {
    return this.vfioIoas ?? undefined;
  }

  setVfioIoas(ioasId: number): void {
    this.vfioIoas = this.ioas(ioasId, "IOMMU_VFIO_IOAS");
  }

  clearVfioIoas(): void {
    this.vfioIoas = null;
  }

  /**
   * iommufd_vfio_compat_ioas_create (SET_CONTAINER with an iommufd): create the compat IOAS unless
   * one exists. The id is allocated first and given back when one already existed.
   */
  ensureCompatIoas(): number {
    const id = this.allocId("iommufd_vfio_compat_ioas_create");
    if (this.vfioIoas) {
      this.abortId(id);
      return this.vfioIoas.id;
    }
    const ioas = new IoasObject(id, this.host.params.thpSize);
    this.publish(ioas);
    this.vfioIoas = ioas;
    return id;
  }

  /** iommufd_get_pagesizes: AND of the HWPT domains' bitmaps, sub-page bits folded, ≥ alignment. */
  pageSizes(ioas: IoasObject): bigint {
    let bitmap = ULONG_MAX;
    for (const h of ioas.hwpts) bitmap &= h.domain.pgsizeBitmap;
    if ((bitmap & (PAGE_SIZE - 1n)) !== 0n) bitmap = (bitmap & ~(PAGE_SIZE - 1n)) | PAGE_SIZE;
    const align = ioas.iopt.iovaAlignment;
    return bitmap > align ? bitmap : align;
  }

  /** Every paging HWPT of the IOAS enforces cache coherency (true with none). */
  enforcesCacheCoherency(ioas: IoasObject): boolean {
    return ioas.hwpts.every((h) => h.enforceCacheCoherency);
  }

  /** iopt_cut_iova (compat TYPE1 hole punching). */
  cutIova(ioas: IoasObject, iovas: readonly bigint[], op = "iopt_cut_iova"): void {
    ioas.iopt.cutIova(iovas, op);
  }

  // ---- HWPT ----

  private newDomain(unit: IommuUnit): IommuDomain {
    if (shouldFail("iommu.domain_alloc")) fail("ENOMEM", "iommu_domain_alloc", "injected");
    // virtio-iommu on 6.12: geometry is set at the first attach; until then the aperture is all zero.
    const domain = new IommuDomain(
      unit,
      unit.apertureAtFirstAttach ? { aperture: { start: 0n, last: 0n } } : {},
    );
    return domain;
  }

  /**
   * iommufd_hwpt_paging_alloc: reserve the id, allocate the domain, set coherency, optionally attach
   * `idev` (immediate attach), add the domain to the IOAS; publish. Unwound on failure.
   */
  private hwptPagingAlloc(
    ioas: IoasObject,
    idev: DeviceObject,
    flags: number,
    immediateAttach: boolean,
    op: string,
  ): HwptPaging {
    const valid = IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
    if (flags & ~valid) fail("EOPNOTSUPP", op, "unknown HWPT_ALLOC flags");
    if (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING && !idev.unit.dirtyTracking)
      fail("EOPNOTSUPP", op, "device has no dirty tracking");
    const id = this.allocId(op);
    try {
      // Nesting is not modelled: no emulated unit offers a nesting parent.
      if (flags & IOMMU_HWPT_ALLOC_NEST_PARENT) fail("EOPNOTSUPP", op, "nesting parent not supported");
      const domain = this.newDomain(idev.unit);
      const hwpt = new HwptPaging(
        id,
        ioas,
        domain,
        (flags & IOMMU_HWPT_ALLOC_NEST_PARENT) !== 0,
        (flags & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) !== 0,
      );
      if (idev.enforceCacheCoherency) hwpt.enforceCacheCoherency = domain.enforceCacheCoherency;
      if (immediateAttach) this.hwptAttach(hwpt, idev, op);
      try {
        ioas.iopt.addDomain(domain, hwpt, op);
      } catch (e) {
        if (immediateAttach) this.hwptDetach(idev);
        throw e;
      }
      ioas.hwpts.push(hwpt);
      return hwpt;
    } catch (e) {
      this.abortId(id);
      throw e;
    }
  }

  /** IOMMU_HWPT_ALLOC (paging on an IOAS; `pt_id` errors are EINVAL). */
  hwptAlloc(devId: number, ptId: number, flags: number): number {
    const op = "IOMMU_HWPT_ALLOC";
    const idev = this.device(devId, op);
    const pt = this.objects.get(ptId);
    if (!pt) fail("EINVAL", op, `no object with id ${ptId}`);
    if (pt.kind !== "ioas") fail("EINVAL", op, "pt_id is not an IOAS (nesting is not modelled)");
    const hwpt = this.hwptPagingAlloc(pt, idev, flags, false, op);
    this.publish(hwpt);
    return hwpt.id;
  }

  // ---- devices ----

  /**
   * iommufd_device_bind: MSI isolation (EPERM unless allow_unsafe_interrupts), DMA ownership of the
   * group (EBUSY), then the idev object. Returns the device id.
   */
  bindDevice(pci: PciDevice): number {
    const op = "iommufd_device_bind";
    const unit = this.host.iommus.find((u) => u.name === pci.iommu);
    if (!unit || pci.group === null) fail("EINVAL", op, `${pci.bdf} has no IOMMU`);
    if (!unit.msiIsolation && !this.host.params.iommufd?.allowUnsafeInterrupts)
      fail("EPERM", op, "MSI interrupts cannot be isolated (allow_unsafe_interrupts is off)");
    const groupId = pci.group;
    if (this.list().some((o) => o.kind === "device" && o.pci.bdf === pci.bdf))
      fail("EBUSY", op, `${pci.bdf} is already bound`);
    // iommufd_get_group: a new igroup is allocated on the group's first bind.
    if (!this.igroups.has(groupId) && shouldFail("iommufd.igroup_alloc"))
      fail("ENOMEM", op, "injected: igroup allocation");
    claimDmaOwner(this.host, groupId, this, op);
    let id: number;
    try {
      id = this.allocId(op);
    } catch (e) {
      releaseDmaOwner(this.host, groupId, this);
      throw e;
    }
    let igroup = this.igroups.get(groupId);
    if (!igroup) this.igroups.set(groupId, (igroup = new IGroup(groupId)));
    this.publish(new DeviceObject(id, pci, unit, igroup, unit.enforceCacheCoherency));
    return id;
  }

  /** iommufd_device_unbind: detach if attached, destroy the idev, release DMA ownership. */
  unbindDevice(devId: number): void {
    const idev = this.device(devId, "iommufd_device_unbind");
    if (idev.hwpt) this.detachDevice(devId);
    this.objects.delete(devId);
    releaseDmaOwner(this.host, idev.igroup.groupId, this);
    if (![...this.objects.values()].some((o) => o?.kind === "device" && o.igroup === idev.igroup))
      this.igroups.delete(idev.igroup.groupId);
  }

  /** Hardware attach: the domain must come from a compatible driver (EINVAL). */
  private hardwareCompatible(hwpt: HwptPaging, idev: DeviceObject): boolean {
    const u = hwpt.domain.unit;
    return u.driver === idev.unit.driver && u.enforceCacheCoherency === idev.unit.enforceCacheCoherency;
  }

  /**
   * iommufd_hw_pagetable_attach: group already on another HWPT (EINVAL), coherency upgrade (EINVAL),
   * the device's own reserved regions (EADDRINUSE / EINVAL), hardware attach of the first device of
   * the group (EINVAL when incompatible); publish.
   */
  private hwptAttach(hwpt: HwptPaging, idev: DeviceObject, op: string): void {
    const igroup = idev.igroup;
    if (igroup.hwpt !== null && igroup.hwpt !== hwpt) fail("EINVAL", op, "group attached to another HWPT");
    const ccBefore = hwpt.enforceCacheCoherency;
    if (idev.enforceCacheCoherency && !hwpt.enforceCacheCoherency) {
      if (!hwpt.domain.enforceCacheCoherency) fail("EINVAL", op, "domain cannot enforce cache coherency");
      hwpt.enforceCacheCoherency = true;
    }
    try {
      const { swMsiStart } = hwpt.ioas.iopt.enforceDeviceRegions(idev.pci.reservedRegions, idev, op);
      const first = igroup.devices.size === 0;
      try {
        if (first) {
          if (!this.hardwareCompatible(hwpt, idev)) fail("EINVAL", op, "domain incompatible with the device");
          if (shouldFail("iommu.attach_group")) fail("ENOMEM", op, "injected: attach");
        }
      } catch (e) {
        hwpt.ioas.iopt.removeReserved(idev);
        throw e;
      }
      if (swMsiStart !== undefined) igroup.swMsiStart = swMsiStart;
      if (first) {
        igroup.hwpt = hwpt;
        this.firstAttach(hwpt);
        if (igroup.swMsiStart !== undefined) mapMsiDoorbell(hwpt, igroup.swMsiStart);
      }
    } catch (e) {
      hwpt.enforceCacheCoherency = ccBefore;
      throw e;
    }
    igroup.devices.add(idev);
    hwpt.devices.add(idev);
    idev.hwpt = hwpt;
  }

  /** A domain's first hardware attach gives it its geometry (virtio-iommu). */
  private firstAttach(hwpt: HwptPaging): void {
    const d = hwpt.domain;
    if (d.unit.apertureAtFirstAttach && d.aperture.start === 0n && d.aperture.last === 0n)
      d.aperture = d.unit.aperture;
  }

  /** iommufd_hw_pagetable_detach: never fails; returns the HWPT left. */
  private hwptDetach(idev: DeviceObject): HwptPaging | null {
    const hwpt = idev.hwpt;
    if (!hwpt) return null;
    const igroup = idev.igroup;
    igroup.devices.delete(idev);
    hwpt.devices.delete(idev);
    if (igroup.devices.size === 0) igroup.hwpt = null;
    hwpt.ioas.iopt.removeReserved(idev);
    idev.hwpt = null;
    return hwpt;
  }

  /** iommufd_hw_pagetable_put: an automatic HWPT goes with its last device. */
  private hwptPut(hwpt: HwptPaging): void {
    if (hwpt.autoDomain && hwpt.devices.size === 0 && this.objects.get(hwpt.id) === hwpt)
      this.destroyHwpt(hwpt);
  }

  /** Resolve `ptId` and attach through `doAttach`; IOAS ids go through the automatic-HWPT walk. */
  private changePt(
    idev: DeviceObject,
    ptId: number,
    doAttach: (hwpt: HwptPaging) => HwptPaging | null,
    immediate: boolean,
    op: string,
  ): number {
    const pt = this.getAny(ptId, op);
    if (pt.kind === "hwpt_paging") {
      const old = doAttach(pt);
      if (old) this.hwptPut(old);
      return pt.id;
    }
    if (pt.kind !== "ioas") fail("EINVAL", op, `object ${ptId} is not an IOAS or HWPT`);
    // iommufd_device_auto_get_domain: reuse an automatic HWPT that accepts the device.
    for (const hwpt of [...pt.hwpts]) {
      if (!hwpt.autoDomain) continue;
      try {
        const old = doAttach(hwpt);
        if (old) this.hwptPut(old);
        return hwpt.id;
      } catch (e) {
        if (e instanceof IoasError && e.errno === "EINVAL") continue;
        throw e;
      }
    }
    const hwpt = this.hwptPagingAlloc(pt, idev, 0, immediate, op);
    let old: HwptPaging | null = null;
    if (!immediate) {
      try {
        old = doAttach(hwpt);
      } catch (e) {
        pt.hwpts.splice(pt.hwpts.indexOf(hwpt), 1);
        pt.iopt.removeDomain(hwpt.domain, hwpt);
        this.abortId(hwpt.id);
        throw e;
      }
    }
    hwpt.autoDomain = true;
    this.publish(hwpt);
    if (old) this.hwptPut(old);
    return hwpt.id;
  }

  /** iommufd_device_attach (first attach): returns the HWPT id actually attached. */
  attachDevice(devId: number, ptId: number, op = "iommufd_device_attach"): number {
    const idev = this.device(devId, op);
    if (idev.hwpt) fail("EINVAL", op, "device already attached (use replace)");
    return this.changePt(
      idev,
      ptId,
      (hwpt) => {
        this.hwptAttach(hwpt, idev, op);
        return null;
      },
      true,
      op,
    );
  }

  /** iommufd_device_replace: move an attached device (its group) to another HWPT/IOAS atomically. */
  replaceDevice(devId: number, ptId: number, op = "iommufd_device_replace"): number {
    const idev = this.device(devId, op);
    return this.changePt(idev, ptId, (hwpt) => this.doReplace(idev, hwpt, op), false, op);
  }

  private doReplace(idev: DeviceObject, hwpt: HwptPaging, op: string): HwptPaging | null {
    const igroup = idev.igroup;
    const old = igroup.hwpt;
    if (old === null) fail("EINVAL", op, "device not attached");
    if (old === hwpt) return null;
    const ccBefore = hwpt.enforceCacheCoherency;
    const moved = old.ioas !== hwpt.ioas;
    const reserved: DeviceObject[] = [];
    try {
      if (moved) {
        for (const dev of igroup.devices) {
          hwpt.ioas.iopt.enforceDeviceRegions(dev.pci.reservedRegions, dev, op);
          reserved.push(dev);
        }
      }
      for (const dev of igroup.devices)
        if (dev.enforceCacheCoherency && !hwpt.enforceCacheCoherency) {
          if (!hwpt.domain.enforceCacheCoherency) fail("EINVAL", op, "domain cannot enforce cache coherency");
          hwpt.enforceCacheCoherency = true;
        }
      if (!this.hardwareCompatible(hwpt, idev)) fail("EINVAL", op, "domain incompatible with the device");
      if (shouldFail("iommu.replace_domain")) fail("ENOMEM", op, "injected: replace");
    } catch (e) {
      for (const dev of reserved) hwpt.ioas.iopt.removeReserved(dev);
      hwpt.enforceCacheCoherency = ccBefore;
      throw e;
    }
    if (moved) for (const dev of igroup.devices) old.ioas.iopt.removeReserved(dev);
    this.firstAttach(hwpt);
    igroup.hwpt = hwpt;
    for (const dev of igroup.devices) {
      old.devices.delete(dev);
      hwpt.devices.add(dev);
      dev.hwpt = hwpt;
    }
    return old;
  }

  /** iommufd_device_detach: never fails (a device that is not attached is left alone). */
  detachDevice(devId: number): void {
    const idev = this.device(devId, "iommufd_device_detach");
    const hwpt = this.hwptDetach(idev);
    if (hwpt) this.hwptPut(hwpt);
  }

  /** IOMMU_GET_HW_INFO. */
  getHwInfo(devId: number): HwInfo {
    const idev = this.device(devId, "IOMMU_GET_HW_INFO");
    // The driver's hw_info() allocates its payload.
    if (shouldFail("iommu.hw_info")) fail("ENOMEM", "IOMMU_GET_HW_INFO", "injected: hw_info");
    const unit = idev.unit;
    const caps = unit.dirtyTracking ? IOMMU_HW_CAP_DIRTY_TRACKING : 0n;
    if (unit.kind === "intel-vtd" && unit.vtd) {
      const data = new Uint8Array(24);
      const dv = new DataView(data.buffer);
      // flags: IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 is always reported by the 6.x driver.
      dv.setUint32(0, 1, true);
      dv.setBigUint64(8, unit.vtd.capReg, true);
      dv.setBigUint64(16, unit.vtd.ecapReg, true);
      return { dataType: IOMMU_HW_INFO_TYPE_INTEL_VTD, data, capabilities: caps };
    }
    return { dataType: IOMMU_HW_INFO_TYPE_NONE, data: new Uint8Array(0), capabilities: caps };
  }

  // ---- dirty tracking ----

  /** IOMMU_HWPT_SET_DIRTY_TRACKING: EOPNOTSUPP unless the HWPT was allocated with DIRTY_TRACKING. */
  setDirtyTracking(hwptId: number, enable: boolean): void {
    const op = "IOMMU_HWPT_SET_DIRTY_TRACKING";
    const hwpt = this.hwpt(hwptId, op);
    if (!hwpt.dirtyOps) fail("EOPNOTSUPP", op, "domain has no dirty tracking");
    if (enable && !hwpt.domain.dirtyTracking) hwpt.domain.clearDirty();
    hwpt.domain.dirtyTracking = enable;
  }

  /**
   * IOMMU_HWPT_GET_DIRTY_BITMAP: indexes (in `pageSize` units from `iova`) of dirty pages in
   * [iova, iova + length); cleared unless `noClear`.
   */
  getDirtyBitmap(hwptId: number, iova: bigint, length: bigint, pageSize: bigint, noClear: boolean): bigint[] {
    const op = "IOMMU_HWPT_GET_DIRTY_BITMAP";
    const hwpt = this.hwpt(hwptId, op);
    const iopt = hwpt.ioas.iopt;
    const last = iova + length - 1n;
    if (length === 0n || last > ULONG_MAX) fail("EOVERFLOW", op, "range wraps");
    const mask = iopt.iovaAlignment - 1n;
    if ((iova & mask) !== 0n || ((last + 1n) & mask) !== 0n)
      fail("EINVAL", op, "range not aligned to the IOAS");
    if (pageSize === 0n) fail("EINVAL", op, "page_size 0");
    if (iova % pageSize !== 0n || (last + 1n) % pageSize !== 0n)
      fail("EINVAL", op, "range not aligned to page_size");
    if (!hwpt.dirtyOps) fail("EOPNOTSUPP", op, "domain has no dirty tracking");
    // The range must be fully covered by back-to-back mappings (holes: EINVAL).
    try {
      iopt.getPages(iova, length, op);
    } catch (e) {
      if (e instanceof IoasError && e.errno === "ENOENT") fail("EINVAL", op, "range has holes");
      throw e;
    }
    // iova_bitmap_alloc, before anything is read or cleared.
    if (shouldFail("iommufd.bitmap_alloc")) fail("ENOMEM", op, "injected: iova bitmap");
    const cpuPages = hwpt.domain.readAndClearDirty(iova, last, noClear);
    const out = new Set<bigint>();
    for (const p of cpuPages) out.add((p * PAGE_SIZE - iova) / pageSize);
    return [...out].sort((a, b) => (a < b ? -1 : 1));
  }

  // ---- accesses (emulated devices) ----

  /** iommufd_access_create + attach to an IOAS. */
  accessCreate(ioasId: number, ops: AccessOps, needsPin = true): number {
    const op = "iommufd_access_create";
    const id = this.allocId(op);
    try {
      const access = new AccessObject(id, ops, needsPin);
      this.accessAttach(access, this.ioas(ioasId, op), op);
      this.publish(access);
      return id;
    } catch (e) {
      this.abortId(id);
      throw e;
    }
  }

  private accessAttach(access: AccessObject, ioas: IoasObject, op: string): void {
    ioas.iopt.accesses.add(access);
    try {
      ioas.iopt.recalculateAlignment(op);
    } catch (e) {
      ioas.iopt.accesses.delete(access);
      throw e;
    }
    ioas.accesses.add(access);
    access.ioas = ioas;
  }

  private access(id: number, op: string): AccessObject {
    return this.get(id, "access", op);
  }

  /** Move an access to another IOAS (it must hold no pins). */
  accessReplace(accessId: number, ioasId: number): void {
    const op = "iommufd_access_replace";
    const access = this.access(accessId, op);
    const ioas = this.ioas(ioasId, op);
    if (access.pins.length > 0) fail("EBUSY", op, "access holds pins");
    const old = access.ioas;
    if (old === ioas) return;
    this.accessAttach(access, ioas, op);
    if (old) {
      old.iopt.accesses.delete(access);
      old.accesses.delete(access);
      old.iopt.recalculateAlignment(op);
    }
  }

  accessDestroy(accessId: number): void {
    const access = this.access(accessId, "iommufd_access_destroy");
    for (const p of [...access.pins]) this.accessUnpin(accessId, p.iova, p.length);
    const ioas = access.ioas;
    if (ioas) {
      ioas.iopt.accesses.delete(access);
      ioas.accesses.delete(access);
      ioas.iopt.recalculateAlignment("iommufd_access_destroy");
    }
    this.objects.delete(accessId);
  }

  /**
   * iommufd_access_pin_pages: pin [iova, iova + length) (back-to-back areas, ENOENT otherwise; EPERM
   * for write on read-only areas); returns the backing.
   */
  accessPin(accessId: number, iova: bigint, length: bigint, write: boolean): BackingSegment[] {
    const op = "iommufd_access_pin_pages";
    const access = this.access(accessId, op);
    const ioas = access.ioas;
    if (!ioas) fail("ENOENT", op, "access not attached");
    if (length === 0n) fail("EINVAL", op, "length 0");
    if (iova + length - 1n > ULONG_MAX) fail("EOVERFLOW", op, "range wraps");
    const slices: AccessPin["slices"] = [];
    const out: BackingSegment[] = [];
    let cur = iova;
    const last = iova + length - 1n;
    try {
      const areas = ioas.iopt.areas;
      for (const slot of areas.overlapping(iova, last)) {
        const areaStart = areas.iovaAt(slot);
        if (areaStart > cur) break;
        if (write && !areas.writeAt(slot)) fail("EPERM", op, "write pin of a read-only mapping");
        const areaLast = areas.lastAt(slot);
        const sliceLast = areaLast < last ? areaLast : last;
        const holder = {};
        const startByte = areas.startByteAt(slot) + (cur - areaStart);
        const pages = areas.pagesOf(slot);
        pages.pin(holder, IoptPages.pageRange(startByte, sliceLast - cur + 1n), op);
        slices.push({ pages, area: areas.holderOf(slot), holder });
        out.push(...pages.segments(startByte, sliceLast - cur + 1n));
        cur = sliceLast + 1n;
        if (cur > last) break;
      }
      if (cur <= last) fail("ENOENT", op, "range not fully mapped");
    } catch (e) {
      for (const s of slices) s.pages.unpin(s.holder);
      throw e;
    }
    for (const s of slices) s.area.accesses++;
    access.pins.push({ iova, length, slices });
    return out;
  }

  /** iommufd_access_unpin_pages of a range pinned before (exactly). */
  accessUnpin(accessId: number, iova: bigint, length: bigint): void {
    const access = this.access(accessId, "iommufd_access_unpin_pages");
    const i = access.pins.findIndex((p) => p.iova === iova && p.length === length);
    if (i < 0) return;
    const pin = access.pins[i]!;
    access.pins.splice(i, 1);
    for (const s of pin.slices) {
      s.pages.unpin(s.holder);
      s.area.accesses--;
    }
  }

  /** iommufd_access_rw: copy between `data` and the IOAS at `iova` (EFAULT/ENOENT as the kernel). */
  accessRw(accessId: number, iova: bigint, data: Uint8Array, write: boolean): void {
    const op = "iommufd_access_rw";
    const access = this.access(accessId, op);
    const ioas = access.ioas;
    if (!ioas) fail("ENOENT", op, "access not attached");
    if (data.length === 0) return;
    const length = BigInt(data.length);
    const slices = ioas.iopt.getPages(iova, length, op);
    const segs: BackingSegment[] = [];
    let cur = iova;
    for (const s of slices) {
      if (write && !ioas.iopt.areas.writeAt(ioas.iopt.areas.find(cur)))
        fail("EPERM", op, "write to a read-only mapping");
      segs.push(...s.pages.lookup(s.startByte, s.length, write, op));
      cur += s.length;
    }
    let pos = 0;
    for (const s of segs) {
      const n = Number(s.length);
      if (write) s.object.write(s.objectOffset, data.subarray(pos, pos + n));
      else s.object.read(s.objectOffset, n, data, pos);
      pos += n;
    }
  }

  // ---- device reserved ranges query (seed 004 extension; never merged upstream) ----

  /** The device's own reserved ranges as iommufd would insert them (relaxable regions dropped). */
  deviceReservedRanges(devId: number): IovaRange[] {
    const idev = this.device(devId, "IOMMU_RESV_IOVA_RANGES");
    return idev.pci.reservedRegions
      .filter((r) => r.type !== "direct-relaxable")
      .map((r) => ({ start: r.start, last: r.last }))
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  }

  /**
   * The usable IOVA space if `devIds` were attached to one new domain each: aperture intersection
   * minus the union of their reserved ranges (the §2.14 recipe).
   */
  allowedRangesFor(devIds: readonly number[]): IovaRange[] {
    let space: IovaRange[] = [{ start: 0n, last: U64_MAX }];
    const reserved: IovaRange[] = [];
    for (const id of devIds) {
      const idev = this.device(id, "IOMMU_RESV_IOVA_RANGES");
      const ap = idev.unit.aperture;
      space = space
        .map((r) => ({
          start: r.start > ap.start ? r.start : ap.start,
          last: r.last < ap.last ? r.last : ap.last,
        }))
        .filter((r) => r.start <= r.last);
      reserved.push(...this.deviceReservedRanges(id));
    }
    return subtract(space, reserved);
  }

  // ---- snapshot ----

  /** Plain JSON state: objects, mappings, reservations, pins and charges. */
  snapshot(): IommufdSnapshot {
    // Stores by identity (a store in its area's row is that area's alone), with what they pin.
    const stores = new Map<object, { label: string; pinned: readonly IovaRange[] }>();
    const label = (area: Area): string => {
      const key = area.sharedPages ?? {};
      let s = stores.get(key);
      if (!s) stores.set(key, (s = { label: `pages${stores.size + 1}`, pinned: area.storePinned }));
      return s.label;
    };
    const objects: ObjectSnapshot[] = [];
    for (const [id, o] of [...this.objects.entries()].sort((a, b) => a[0] - b[0])) {
      if (!o) continue;
      switch (o.kind) {
        case "ioas":
          objects.push({
            id,
            kind: "ioas",
            alignment: hexs(o.iopt.iovaAlignment),
            largePages: !o.iopt.disableLargePages,
            areas: o.iopt.areas.slots().map((slot) => {
              const area = o.iopt.areas.at(slot);
              return {
                iova: hexs(area.iova),
                last: hexs(area.last),
                pages: label(area),
                startByte: hexs(area.startByte),
                prot: (area.read ? "r" : "-") + (area.write ? "w" : "-"),
                accesses: area.numAccesses,
              };
            }),
            allowed: o.iopt.allowed.map(rangeText),
            reserved: o.iopt.reserved.map((r) => `${rangeText(r)} ${r.owner.label}`),
            domains: o.iopt.domains.map((d) => o.hwpts.find((h) => h.domain === d)?.id ?? -1),
            hwpts: o.hwpts.map((h) => h.id),
          });
          break;
        case "hwpt_paging":
          objects.push({
            id,
            kind: "hwpt_paging",
            ioas: o.ioas.id,
            auto: o.autoDomain,
            devices: [...o.devices].map((d) => d.id).sort((a, b) => a - b),
            enforceCacheCoherency: o.enforceCacheCoherency,
            translations: o.domain
              .runs()
              .map((r) => `${hexs(r.start)}-${hexs(r.last)} obj${r.object.id}+${hexs(r.objectOffset)}`),
            aperture: rangeText(o.domain.aperture),
          });
          break;
        case "device":
          objects.push({ id, kind: "device", bdf: o.pci.bdf, hwpt: o.hwpt?.id ?? null });
          break;
        case "access":
          objects.push({ id, kind: "access", ioas: o.ioas?.id ?? null, pins: o.pins.length });
          break;
      }
    }
    return {
      accountMode: this.accountMode,
      vfioIoas: this.vfioIoas?.id ?? null,
      objects,
      pages: [...stores.values()].map((s) => ({
        label: s.label,
        pinned: s.pinned.map(rangeText),
        charged: hexs(totalLength(s.pinned)),
      })),
    };
  }
}

/**
 * The software-MSI doorbell: once a group with a sw-MSI window is attached, the interrupt
 * controller's doorbell page is mapped at the window's base in the domain (the MSI cookie; the
 * kernel maps it when the device enables MSI — the model maps it at attach). The window is
 * reserved in the IOAS, so nothing else can be there; a failure only means MSIs would not work,
 * it never fails the attach.
 */
function mapMsiDoorbell(hwpt: HwptPaging, base: bigint): void {
  if (hwpt.domain.translate(base)) return;
  try {
    hwpt.domain.map(base, [{ object: HOST_MSI_DOORBELL, objectOffset: 0n, length: PAGE_SIZE }], false, true);
  } catch {
    // as the kernel: MSI setup fails later, the attach stands
  }
}
