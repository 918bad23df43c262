/**
 * The VFIO type1 IOMMU backend (drivers/vfio/vfio_iommu_type1.c): one user address space mirrored
 * into N hardware IOMMU domains.
 *
 * Terms:
 * - dma: one `vfio_dma` — a MAP_DMA call (never merged, never split); a row of the context's `DmaTable`,
 *   indexed by IOVA.
 * - domain: a `vfio_domain` — a hardware IommuDomain plus the groups attached to it. Groups behind
 *   IOMMUs with the same driver and coherency share a domain (domain reuse, §2.2); otherwise every
 *   mapping is mirrored into each domain (§2.3).
 * - iova list: the valid IOVA ranges (§2.1); empty = unrestricted (no domain).
 * - pgsize: the smallest bit of the context's page-size bitmap (≥ PAGE_SIZE): every alignment rule.
 * - pinned: a dma's backing memory segments, held (and charged to its creator's mm) while the context
 *   has at least one domain. A context with only emulated groups records mappings without pinning.
 *
 * Every state change is reserve → fill → publish and is unwound on failure, so a failing call leaves
 * `snapshot()` unchanged (the one exception is the kernel's own: none on type1 — v2 unmap is atomic,
 * v1 unmap never fails half-way).
 */

import { chargePages, limitPages, unchargePages } from "../accounting.js";
import { IommuDomain, TableMirror, type BackingSegment } from "../domain.js";
import { HOST_MSI_DOORBELL } from "../dma/doorbell.js";
import { fail, IoasError } from "../errno.js";
import { shouldFail } from "../fault.js";
import type { KernelFeatures } from "../kernel.js";
import type { IovaRange } from "../ranges.js";
import type { HostParams, IommuUnit, ReservedRegion } from "../topology/types.js";
import { PAGE_SIZE, U64_MAX, hex, smallBigint } from "../u64.js";
import { DMA_LOCK_CAP, DMA_READ, DMA_WRITE, DmaTable, VfioDma, type DmaTask } from "./dma-table.js";
import { aperResize, blockingRegions, listAllows, resvExclude, WHOLE_SPACE } from "./iova-list.js";
import type { VfioGroup } from "./subsystem.js";
import { protAllowsPin, type AddressSpace, type MemoryObject } from "../../process/memory.js";

export { VfioDma, type DmaTask };

/** `PAGE_MASK`: every page size from PAGE_SIZE up. */
export const PAGE_MASK = U64_MAX & ~(PAGE_SIZE - 1n);
/** `DIRTY_BITMAP_SIZE_MAX`: 256 MiB of bitmap (MIGRATION cap, bitmap size checks). */
export const DIRTY_BITMAP_SIZE_MAX = 1n << 28n;

export type Type1Mode = "v1" | "v2" | "nesting";

export interface Type1Options {
  /**
   * Seed 003: accept the never-merged `VFIO_DMA_MAP_FLAG_MSI_RESERVED_IOVA` (userspace chooses the
   * sw-MSI doorbell window). Off by default, as in every real kernel.
   */
  readonly msiReservedIova?: boolean;
}

interface DirtyBitmap {
  /** Every page of the dma is dirty (`bitmap_set` of the whole range). */
  all: boolean;
  /** Dirty page indexes (relative to the dma, in pgsize units) when not `all`. */
  readonly pages: Set<bigint>;
}

/** One `vfio_domain`. */
export class Type1Domain {
  readonly domain: IommuDomain;
  readonly groups: VfioGroup[] = [];
  readonly enforceCacheCoherency: boolean;
  /** Base of the sw-MSI window the doorbell is mapped in (`iommu_get_msi_cookie`), or null. */
  msiCookie: bigint | null = null;

  constructor(domain: IommuDomain) {
    this.domain = domain;
    this.enforceCacheCoherency = domain.enforceCacheCoherency;
  }

  get unit(): IommuUnit {
    return this.domain.unit;
  }
}

/** The interrupt controller's doorbell page, mapped in each domain's sw-MSI window. */
const DOORBELL = HOST_MSI_DOORBELL;

/** What GET_INFO reports. */
export interface Type1Info {
  readonly pgsizeBitmap: bigint;
  readonly dmaAvail: number;
  readonly iovaList: readonly IovaRange[];
  /** MIGRATION cap: the smallest supported page size. */
  readonly migrationPgsize: bigint;
  readonly maxDirtyBitmapSize: bigint;
}

export interface MapRequest {
  readonly vaddr: bigint;
  readonly iova: bigint;
  readonly size: bigint;
  readonly read: boolean;
  readonly write: boolean;
  /** VFIO_DMA_MAP_FLAG_VADDR: give an invalidated mapping its new process address. */
  readonly vaddrUpdate?: boolean;
}

/** Writes a dirty bitmap to user memory (the uAPI's copy_to_user / copy_from_user). */
export interface UserBitmap {
  /** User address of the bitmap (u64 words). */
  readonly data: bigint;
  readonly pgsize: bigint;
  readonly memory: AddressSpace;
}

export interface UnmapRequest {
  readonly iova: bigint;
  readonly size: bigint;
  readonly all?: boolean;
  readonly invalidateVaddr?: boolean;
  /** GET_DIRTY_BITMAP: report the removed mappings' dirty bits here first. */
  readonly bitmap?: UserBitmap;
}

export interface Type1Snapshot {
  readonly mode: Type1Mode;
  readonly pgsizeBitmap: string;
  readonly dmaAvail: number;
  readonly iovaList: readonly { start: string; last: string }[];
  readonly dirtyTracking: boolean;
  readonly vaddrInvalidCount: number;
  readonly nonPinnedGroups: number;
  readonly emulatedGroups: readonly number[];
  readonly msiReserved: { iova: string; size: string } | null;
  readonly domains: readonly {
    readonly unit: string;
    readonly groups: readonly number[];
    readonly coherent: boolean;
    readonly msiCookie: string | null;
    readonly extents: number;
    readonly mapped: string;
  }[];
  readonly dmas: readonly {
    readonly iova: string;
    readonly size: string;
    readonly vaddr: string;
    readonly prot: string;
    readonly vaddrInvalid: boolean;
    readonly pinned: boolean;
    readonly lockedPages: string;
  }[];
}

function lowestBit(v: bigint): bigint {
  return v & -v;
}

function rangeJson(r: IovaRange): { start: string; last: string } {
  return { start: hex(r.start), last: hex(r.last) };
}

/**
 * Map a pinned dma into `domain`. Pinned in one run, the dma is its own translation there (the
 * domain shows the context's table through its mirror): no per-domain record. Several runs map as
 * segments.
 */
function mapDmaInto(dma: VfioDma, domain: IommuDomain): void {
  if (dma.pinnedInOneRun) domain.mapRecord(dma);
  else domain.map(dma.iova, dma.segments ?? [], dma.read, dma.write, dma.last);
}

/** A `vfio_iommu`: one type1 context. */
export class Type1Iommu {
  readonly mode: Type1Mode;
  readonly features: KernelFeatures;
  readonly params: HostParams["type1"];
  readonly options: Type1Options;
  private readonly dmas = new DmaTable();
  /**
   * What every domain of this context shows of `dmas`: every dma pinned in one run is mapped into
   * every domain of the container (`vfio_pin_map_dma` and `vfio_iommu_replay` are all or nothing),
   * so the domains show the dma table instead of each holding a copy.
   */
  private readonly mirror = new TableMirror(this.dmas);
  readonly domains: Type1Domain[] = [];
  readonly emulatedGroups: VfioGroup[] = [];
  iovaList: IovaRange[] = [];
  /** The AND of the domains' page sizes (`vfio_update_pgsize_bitmap`); `pgsize` is its lowest bit. */
  private bitmapOfPageSizes = PAGE_MASK;
  private smallestPageSize = lowestBit(PAGE_MASK);
  /** `smallestPageSize - 1`, the alignment mask of every MAP/UNMAP check (one BigInt less per call). */
  private pageMask = lowestBit(PAGE_MASK) - 1n;
  dmaAvail: number;
  dirtyTracking = false;
  /**
   * Each dma's dirty bits while tracking is on (`dma->bitmap`), by the dma's IOVA (dmas never
   * move), beside the dmas rather than in them: a column would cost every mapping whether tracking
   * is on or not.
   */
  private readonly dirtyBitmaps = new Map<bigint, DirtyBitmap>();
  vaddrInvalidCount = 0;
  /** IOMMU-backed groups: they can dirty memory directly, so every mapped page reports dirty. */
  nonPinnedGroups = 0;
  /** Seed 003: the user-chosen sw-MSI window, registered in every domain. */
  msiReserved: { iova: bigint; size: bigint } | null = null;

  constructor(
    mode: Type1Mode,
    features: KernelFeatures,
    params: HostParams["type1"],
    options: Type1Options = {},
  ) {
    this.mode = mode;
    this.features = features;
    this.params = params;
    this.options = options;
    this.dmaAvail = params.dmaEntryLimit;
  }

  get v2(): boolean {
    return this.mode !== "v1";
  }

  get pgsizeBitmap(): bigint {
    return this.bitmapOfPageSizes;
  }

  set pgsizeBitmap(bitmap: bigint) {
    this.bitmapOfPageSizes = bitmap;
    this.smallestPageSize = lowestBit(bitmap);
    this.pageMask = this.smallestPageSize - 1n;
  }

  /** The smallest page size: every alignment rule uses it (kept, not recomputed per map/unmap). */
  get pgsize(): bigint {
    return this.smallestPageSize;
  }

  get groups(): VfioGroup[] {
    return [...this.domains.flatMap((d) => d.groups), ...this.emulatedGroups];
  }

  hasGroup(group: VfioGroup): boolean {
    return this.groups.includes(group);
  }

  /** Every dma, ascending (handles: valid until the dma is unmapped). */
  mappings(): readonly VfioDma[] {
    return this.dmas.slots().map((slot) => this.dmas.at(slot));
  }

  /** `vfio_find_dma`: some mapping overlapping [start, start+size). */
  findDma(start: bigint, size: bigint): VfioDma | undefined {
    if (size === 0n) {
      // Size 0 finds a mapping that strictly contains `start` past its first byte.
      const slot = this.dmas.find(start);
      return slot >= 0 && this.dmas.iovaAt(slot) < start ? this.dmas.at(slot) : undefined;
    }
    const last = start + size - 1n > U64_MAX ? U64_MAX : start + size - 1n;
    const slot = this.dmas.firstOverlapping(start, last);
    return slot < 0 ? undefined : this.dmas.at(slot);
  }

  // ---------------------------------------------------------------- extensions / info

  /**
   * type1's CHECK_EXTENSION answer. `ctx` null = asked before SET_IOMMU (container with no backend).
   */
  static checkExtension(ext: number, ctx: Type1Iommu | null): number {
    switch (ext) {
      case 1: // TYPE1
      case 3: // TYPE1v2
      case 9: // UNMAP_ALL
        return 1;
      case 6: // TYPE1_NESTING: still answered on 6.1 and 6.12 (the traces say 1 on both)
        return 1;
      case 4: // DMA_CC_IOMMU
        return ctx === null ? 0 : ctx.domains.every((d) => d.enforceCacheCoherency) ? 1 : 0;
      case 10: // UPDATE_VADDR: needs a context without emulated groups
        return ctx !== null && ctx.emulatedGroups.length === 0 ? 1 : 0;
      default:
        return 0;
    }
  }

  info(): Type1Info {
    return {
      pgsizeBitmap: this.pgsizeBitmap,
      dmaAvail: this.dmaAvail,
      iovaList: this.iovaList,
      migrationPgsize: this.pgsize,
      maxDirtyBitmapSize: DIRTY_BITMAP_SIZE_MAX,
    };
  }

  // ---------------------------------------------------------------- group attach / detach

  /**
   * `vfio_iommu_type1_attach_group` (§2.2). Everything is computed on copies and published at the
   * end; on failure the new domain is dropped and nothing else has changed.
   */
  attachGroup(group: VfioGroup): void {
    const op = "vfio_iommu_type1_attach_group";
    // Attach could require pinning, so it waits for every vaddr to be valid again.
    if (this.vaddrInvalidCount > 0) fail("EBUSY", op, "a mapping has an invalidated vaddr");
    if (this.hasGroup(group)) fail("EINVAL", op, `group ${group.id} already attached`);
    if (shouldFail("type1.group_alloc")) fail("ENOMEM", op, "injected");

    if (group.emulated) {
      this.emulatedGroups.push(group);
      return;
    }

    // A paging domain for the group's first device.
    const unit = group.devices[0]?.iommu ?? null;
    if (unit === null || shouldFail("type1.domain_alloc")) fail("EIO", op, "no IOMMU domain for the group");
    const domain = new IommuDomain(unit);
    if (this.mode === "nesting") fail("EINVAL", op, `${unit.kind} does not support nesting`);
    if (shouldFail("type1.iommu_attach_group")) fail("ENODEV", op, "injected attach failure");
    // The geometry after attach; a domain whose geometry comes at first attach gets it now.
    if (unit.apertureAtFirstAttach) domain.aperture = unit.aperture;
    const aper = domain.aperture;

    this.checkApertureConflict(op, aper, group);
    // iommu_get_group_resv_regions: the group's region list is allocated before the conflict check.
    if (shouldFail("type1.resv_regions_alloc")) fail("ENOMEM", op, "injected");
    const regions = group.iommuGroup.reservedRegions;
    this.checkReservedConflict(op, regions, group);

    // vfio_iommu_iova_get_copy + resv_exclude: the new list is built from allocated nodes.
    if (shouldFail("type1.iova_list_alloc")) fail("ENOMEM", op, "injected");
    let iovaCopy = aperResize(this.iovaList, aper.start, aper.last);
    iovaCopy = resvExclude(iovaCopy, regions);
    if (iovaCopy.length === 0) fail("EINVAL", op, "no valid IOVA range left", { group: group.id });

    const swMsi = swMsiBase(regions);

    // Interrupt isolation: every device's IOMMU must isolate MSIs, or the admin opted out.
    const msiIsolated = group.devices.every((d) => d.emulated || (d.iommu?.msiIsolation ?? false));
    if (!msiIsolated && !this.params.allowUnsafeInterrupts) {
      fail("EPERM", op, 'no interrupt remapping; use the module param "allow_unsafe_interrupts"');
    }

    // Domain reuse: same driver and same coherency enforcement.
    for (const d of this.domains) {
      if (d.unit.driver !== unit.driver || d.enforceCacheCoherency !== domain.enforceCacheCoherency) continue;
      if (this.canJoin(d, unit)) {
        d.groups.push(group);
        this.publishIovaList(iovaCopy);
        this.nonPinnedGroups++;
        return;
      }
    }

    const vd = new Type1Domain(domain);
    domain.setMirror(this.mirror);
    vd.groups.push(group);
    const pinnedHere = this.replay(vd);
    try {
      // Seed 003: a user-registered window replaces the kernel-chosen one in every new domain.
      const cookie = this.msiReserved?.iova ?? swMsi;
      if (cookie !== null) this.installMsiCookie(vd, cookie);
    } catch (e) {
      this.unreplay(vd, pinnedHere);
      throw e;
    }

    this.domains.push(vd);
    this.updatePgsizeBitmap();
    this.publishIovaList(iovaCopy);
    this.nonPinnedGroups++;
  }

  /**
   * Whether a group behind `unit` can be moved into the existing domain `d`: VT-d refuses when the
   * domain already maps addresses beyond the unit's address width.
   */
  private canJoin(d: Type1Domain, unit: IommuUnit): boolean {
    if (shouldFail("type1.reuse_attach")) return false;
    const top = d.domain.translations().at(-1);
    return top === undefined || top.last <= unit.aperture.last;
  }

  /** `vfio_iommu_aper_conflict` — EINVAL naming the mapping that falls outside the new aperture. */
  private checkApertureConflict(op: string, aper: IovaRange, group: VfioGroup): void {
    const first = this.iovaList[0];
    const last = this.iovaList.at(-1);
    if (first === undefined || last === undefined) return;
    if (aper.start > last.last || aper.last < first.start) {
      fail("EINVAL", op, "aperture disjoint from the valid IOVA ranges", {
        group: group.id,
        aperture: rangeJson(aper),
      });
    }
    const below = aper.start > first.start ? this.findDma(first.start, aper.start - first.start) : undefined;
    const above = aper.last < last.last ? this.findDma(aper.last + 1n, last.last - aper.last) : undefined;
    const hit = below ?? above;
    if (hit) {
      fail("EINVAL", op, `mapping ${hex(hit.iova)}+${hex(hit.size)} outside the new aperture`, {
        group: group.id,
        mapping: { iova: hit.iova, size: hit.size },
        aperture: rangeJson(aper),
      });
    }
  }

  /** `vfio_iommu_resv_conflict` — EINVAL naming which mapping overlaps which reserved region. */
  private checkReservedConflict(op: string, regions: readonly ReservedRegion[], group: VfioGroup): void {
    for (const r of blockingRegions(regions)) {
      const hit = this.findDma(r.start, r.last - r.start + 1n);
      if (hit) {
        fail("EINVAL", op, `mapping ${hex(hit.iova)}+${hex(hit.size)} overlaps reserved ${r.type} region`, {
          group: group.id,
          mapping: { iova: hit.iova, size: hit.size },
          region: { start: r.start, last: r.last, type: r.type },
        });
      }
    }
  }

  /**
   * `vfio_iommu_replay`: map every existing mapping into a new domain. Physical pages come from the
   * pinned segments; with no domain yet they are pinned now from each mapping's task. Returns the
   * mappings pinned by this call (for unwinding). All or nothing.
   */
  private replay(vd: Type1Domain): VfioDma[] {
    const pinned: VfioDma[] = [];
    const mapped: VfioDma[] = [];
    try {
      for (const dma of this.mappings()) {
        if (dma.segments === null) {
          this.pinDma(dma);
          pinned.push(dma);
        }
        mapDmaInto(dma, vd.domain);
        mapped.push(dma);
      }
    } catch (e) {
      for (const dma of mapped) vd.domain.unmap(dma.iova, dma.last);
      for (const dma of pinned) this.unpinDma(dma);
      throw e;
    }
    return pinned;
  }

  private unreplay(vd: Type1Domain, pinned: readonly VfioDma[]): void {
    for (const dma of this.mappings()) vd.domain.unmap(dma.iova, dma.last);
    for (const dma of pinned) this.unpinDma(dma);
  }

  /**
   * `iommu_get_msi_cookie` + the doorbell: the interrupt controller's doorbell page appears at the
   * window's base in this domain. ENODEV (driver without MSI cookies) would be ignored by the kernel.
   */
  private installMsiCookie(vd: Type1Domain, base: bigint): void {
    if (shouldFail("type1.msi_cookie")) fail("ENOMEM", "iommu_get_msi_cookie", "injected");
    vd.domain.map(base, [{ object: DOORBELL, objectOffset: 0n, length: PAGE_SIZE }], false, true);
    vd.msiCookie = base;
  }

  private removeMsiCookie(vd: Type1Domain): void {
    if (vd.msiCookie === null) return;
    vd.domain.unmap(vd.msiCookie, vd.msiCookie + PAGE_SIZE - 1n);
    vd.msiCookie = null;
  }

  private publishIovaList(list: IovaRange[]): void {
    this.iovaList = list;
  }

  /** `vfio_update_pgsize_bitmap`: AND of the domains; sub-page sizes hidden behind PAGE_SIZE. */
  private updatePgsizeBitmap(): void {
    let bm = U64_MAX;
    for (const d of this.domains) bm &= d.domain.pgsizeBitmap;
    if (bm & ~PAGE_MASK) bm = (bm & PAGE_MASK) | PAGE_SIZE;
    this.pgsizeBitmap = bm;
  }

  /**
   * `vfio_iommu_type1_detach_group`. Never fails. Returns true when the context has no group left
   * (the container then releases the backend).
   */
  detachGroup(group: VfioGroup): boolean {
    const ei = this.emulatedGroups.indexOf(group);
    if (ei >= 0) {
      this.emulatedGroups.splice(ei, 1);
      if (this.emulatedGroups.length === 0 && this.domains.length === 0) this.unmapAll();
      return this.groups.length === 0;
    }
    const di = this.domains.findIndex((d) => d.groups.includes(group));
    if (di < 0) return this.groups.length === 0;
    const vd = this.domains[di]!;
    vd.groups.splice(vd.groups.indexOf(group), 1);
    let iovaCopy: IovaRange[] = [...this.iovaList];
    if (vd.groups.length === 0) {
      if (this.domains.length === 1) {
        if (this.emulatedGroups.length === 0) this.unmapAll();
        else this.unpinAllKeepBookkeeping();
      }
      for (const dma of this.mappings()) vd.domain.unmap(dma.iova, dma.last);
      vd.domain.setMirror(null);
      this.removeMsiCookie(vd);
      this.domains.splice(di, 1);
      iovaCopy = this.aperExpand(iovaCopy);
      this.updatePgsizeBitmap();
    }
    const refreshed = this.resvRefresh(iovaCopy);
    if (refreshed !== null) this.iovaList = refreshed;
    this.nonPinnedGroups--;
    if (this.dirtyTracking) for (const bitmap of this.dirtyBitmaps.values()) bitmap.all = true;
    return this.groups.length === 0;
  }

  /** `vfio_iommu_aper_expand`: reset the outer limits to the remaining domains' intersection. */
  private aperExpand(list: IovaRange[]): IovaRange[] {
    if (list.length === 0) return list;
    let start = WHOLE_SPACE.start;
    let last = WHOLE_SPACE.last;
    for (const d of this.domains) {
      if (d.domain.aperture.start > start) start = d.domain.aperture.start;
      if (d.domain.aperture.last < last) last = d.domain.aperture.last;
    }
    const out = [...list];
    out[0] = { start, last: out[0]!.last };
    out[out.length - 1] = { start: out[out.length - 1]!.start, last };
    return out;
  }

  /** `vfio_iommu_resv_refresh`: rebuild over the outer limits minus the remaining groups' regions. */
  private resvRefresh(list: IovaRange[]): IovaRange[] | null {
    const first = list[0];
    const last = list.at(-1);
    if (first === undefined || last === undefined) return null;
    const regions = this.domains.flatMap((d) => d.groups.flatMap((g) => g.iommuGroup.reservedRegions));
    const rebuilt = resvExclude(aperResize([], first.start, last.last), regions);
    return rebuilt.length === 0 ? null : rebuilt;
  }

  /** Backend release (last group gone or container closed): everything unmapped and unpinned. */
  release(): void {
    this.unmapAll();
    for (const vd of this.domains) this.removeMsiCookie(vd);
    this.domains.length = 0;
    this.emulatedGroups.length = 0;
  }

  // ---------------------------------------------------------------- pinning

  /**
   * `vfio_pin_pages_remote` over a whole dma: resolve the task's memory from `dma.vaddr`, charging
   * page runs to the mm (the limit is checked unless CAP_IPC_LOCK) — ENOMEM when over the limit
   * before the first inaccessible page, EFAULT at that page otherwise. Nothing stays charged on error.
   */
  private pinDma(dma: VfioDma): void {
    const op = "vfio_pin_pages_remote";
    // The dma's fields read once: each read of a handle is a generation check and a new BigInt.
    const task = dma.task;
    const vaddr = dma.vaddr;
    const size = dma.size;
    const write = dma.write;
    const lockCap = dma.lockCap;
    const creds = { capIpcLock: lockCap, rlimitMemlock: task.rlimitMemlock };
    const end = vaddr + size;
    // The first run, kept as its object and offset: nearly every dma is one run, which needs no
    // segment list (the table keeps a one-run pin as the object alone).
    let firstObject: MemoryObject | null = null;
    let firstOffset = 0n;
    let segments: BackingSegment[] | null = null;
    let charged = 0n;
    try {
      let cur = vaddr;
      while (cur < end) {
        if (shouldFail("type1.pin")) fail("ENOMEM", op, "injected");
        const vma = task.memory.find(cur);
        if (!vma || !protAllowsPin(vma.prot, write)) {
          fail("EFAULT", op, `vaddr ${hex(cur)} cannot be pinned`);
        }
        const runEnd = vma.last + 1n < end ? vma.last + 1n : end;
        // One run covering the whole dma (the common case) shares the dma's size bigint.
        const length = cur === vaddr && runEnd === end ? size : runEnd - cur;
        const pages = smallBigint(length / PAGE_SIZE);
        chargePages(op, task.mm, pages, creds, !lockCap);
        charged = charged === 0n ? pages : charged + pages;
        const objectOffset = vma.objectOffset + (cur - vma.start);
        if (firstObject === null) {
          firstObject = vma.object;
          firstOffset = objectOffset;
        } else {
          // An array literal, not push() onto []: a pushed-to empty array reserves 17 slots.
          const seg = { object: vma.object, objectOffset, length };
          if (segments === null)
            segments = [{ object: firstObject, objectOffset: firstOffset, length: cur - vaddr }, seg];
          else segments.push(seg);
        }
        cur = runEnd;
      }
    } catch (e) {
      unchargePages(task.mm, charged);
      throw e;
    }
    // `lockedPages` is derived (all of the dma's pages while pinned): what was charged must be that.
    if (charged !== smallBigint(size / PAGE_SIZE)) {
      unchargePages(task.mm, charged);
      throw new Error("vfio_dma: pinned runs are not whole pages (engine bug)");
    }
    // Several runs: their list; one run: its object alone (the table's one-run pin).
    if (segments !== null) this.dmas.setPin(dma.slot, segments, 0n);
    else if (firstObject !== null) this.dmas.setPin(dma.slot, firstObject, firstOffset);
  }

  private unpinDma(dma: VfioDma): void {
    unchargePages(dma.task.mm, dma.lockedPages);
    dma.segments = null;
  }

  // ---------------------------------------------------------------- MAP_DMA

  /** `vfio_dma_do_map` after the ioctl's argsz/flags checks (semantics.md §1.2 steps 4–12). */
  map(task: DmaTask, req: MapRequest): void {
    const op = "vfio_dma_do_map";
    const { iova, size, vaddr } = req;
    const setVaddr = req.vaddrUpdate === true;
    const prot = req.read || req.write;
    // Each end is computed once: every BigInt operation allocates.
    const last = iova + size - 1n;
    const wraps = last > U64_MAX || vaddr + size - 1n > U64_MAX;
    if (this.features.type1Eoverflow) {
      if (size === 0n) fail("EINVAL", op, "size 0");
      if (wraps) fail("EOVERFLOW", op, "range wraps");
    }
    if (prot === setVaddr) fail("EINVAL", op, "need exactly one of a permission and VADDR");
    const pgmask = this.pageMask;
    if (size === 0n || ((size | iova | vaddr) & pgmask) !== 0n) fail("EINVAL", op, "size 0 or misaligned");
    if (wraps) fail("EINVAL", op, "range wraps");

    if (setVaddr) {
      this.updateVaddr(task, iova, size, vaddr);
      return;
    }
    // The dma is linked into the table first (as `vfio_link_dma` does before pinning): the insert
    // is the EEXIST check, one search instead of a lookup and an insert; every later failure
    // unlinks it, so the table is as before.
    const flags =
      (req.read ? DMA_READ : 0) |
      (req.write ? DMA_WRITE : 0) |
      (task.credentials.capIpcLock ? DMA_LOCK_CAP : 0);
    const slot = this.dmas.insert(iova, last, vaddr, flags, task);
    if (slot < 0) fail("EEXIST", op, "overlaps an existing mapping");
    const dma = this.dmas.at(slot);
    try {
      if (this.dmaAvail === 0) fail("ENOSPC", op, "dma_entry_limit reached");
      if (!listAllows(this.iovaList, iova, last)) {
        fail("EINVAL", op, `[${hex(iova)}, ${hex(last)}] not inside one valid IOVA range`);
      }
      if (shouldFail("type1.dma_alloc")) fail("ENOMEM", op, "injected");
      if (this.domains.length > 0) this.pinMapDma(dma);
      if (this.dirtyTracking) {
        if (shouldFail("type1.bitmap_alloc")) {
          this.unmapUnpin(dma);
          fail("ENOMEM", op, "injected");
        }
        this.dirtyBitmaps.set(iova, { all: false, pages: new Set() });
      }
    } catch (e) {
      this.dmas.remove(slot);
      throw e;
    }
    this.dmaAvail--;
  }

  /** `vfio_pin_map_dma`: pin, then map into every domain in list order; all or nothing. */
  private pinMapDma(dma: VfioDma): void {
    this.pinDma(dma);
    const done: Type1Domain[] = [];
    try {
      for (const vd of this.domains) {
        mapDmaInto(dma, vd.domain);
        done.push(vd);
      }
    } catch (e) {
      for (const vd of done) vd.domain.unmap(dma.iova, dma.last);
      this.unpinDma(dma);
      throw e;
    }
  }

  /** VFIO_DMA_MAP_FLAG_VADDR: the exact invalidated mapping gets its new vaddr. */
  private updateVaddr(task: DmaTask, iova: bigint, size: bigint, vaddr: bigint): void {
    const op = "vfio_dma_do_map";
    const dma = this.findDma(iova, size);
    if (!dma) fail("ENOENT", op, "no mapping to update");
    if (!dma.vaddrInvalid || dma.iova !== iova || dma.size !== size) {
      fail("EINVAL", op, "VADDR needs the exact iova/size of an invalidated mapping");
    }
    if (this.features.vaddrMovesAccounting) this.changeDmaOwner(dma, task);
    dma.vaddr = vaddr;
    dma.vaddrInvalid = false;
    this.vaddrInvalidCount--;
  }

  /** `vfio_change_dma_owner` (6.3+): the locked pages move to the calling process's mm. */
  private changeDmaOwner(dma: VfioDma, task: DmaTask): void {
    if (task.mm === dma.task.mm) return;
    const lockCap = task.credentials.capIpcLock;
    const pages = dma.lockedPages;
    if (
      !lockCap &&
      task.mm.lockedVm + pages > limitPages({ capIpcLock: lockCap, rlimitMemlock: task.rlimitMemlock })
    ) {
      fail("ENOMEM", "vfio_change_dma_owner", "RLIMIT_MEMLOCK exceeded");
    }
    task.mm.lockedVm += pages;
    unchargePages(dma.task.mm, pages);
    dma.task = task;
    dma.lockCap = lockCap;
  }

  // ---------------------------------------------------------------- UNMAP_DMA

  /**
   * `vfio_dma_do_unmap` (§1.2 steps 4–11): the bytes removed (or invalidated). Errors leave
   * everything as it was.
   */
  unmap(req: UnmapRequest): bigint {
    const op = "vfio_dma_do_unmap";
    const all = req.all === true;
    const invalidate = req.invalidateVaddr === true;
    if (invalidate && this.emulatedGroups.length > 0) fail("EBUSY", op, "VADDR with an emulated group");
    const pgsize = this.pgsize;
    const pgmask = this.pageMask;
    const { iova } = req;
    let { size } = req;
    if ((iova & pgmask) !== 0n) fail("EINVAL", op, "iova misaligned");
    if (all) {
      if (iova !== 0n || size !== 0n) fail("EINVAL", op, "UNMAP_ALL needs iova = size = 0");
      size = U64_MAX;
    } else {
      if (size === 0n || (size & pgmask) !== 0n) fail("EINVAL", op, "size 0 or misaligned");
    }
    // The request's last byte, computed once (every BigInt operation allocates).
    const last = iova + size - 1n;
    if (!all && last > U64_MAX)
      fail(this.features.type1Eoverflow ? "EOVERFLOW" : "EINVAL", op, "range wraps");
    if (req.bitmap && (!this.dirtyTracking || req.bitmap.pgsize !== pgsize)) {
      fail("EINVAL", op, "dirty bitmap needs tracking on and the smallest page size");
    }
    // The walk compares against `iova + size` in u64 arithmetic: a range ending exactly at 2^64
    // wraps to 0 and finds nothing (`vfio_find_dma_first_node`), which the vectors confirm.
    const endWraps = last === U64_MAX;
    let hits: VfioDma[] | null = null;
    if (this.v2 && !all) {
      const head = this.dmas.find(iova);
      if (head >= 0 && this.dmas.iovaAt(head) !== iova)
        fail("EINVAL", op, "v2: the range starts inside a mapping");
      // (Its start is the request's, so equal sizes are equal last bytes.)
      if (head >= 0 && !endWraps && this.dmas.lengthAt(head) === size) {
        // Exactly one mapping, exactly the range (the common unmap): it is also the tail, and the
        // walk would find it alone. Its size is the request's.
        if (!invalidate && !req.bitmap) {
          this.removeDma(this.dmas.at(head));
          return size;
        }
        hits = [this.dmas.at(head)];
      } else {
        const tail = this.findDma(last, 0n);
        if (tail && tail.last !== last) fail("EINVAL", op, "v2: the range ends inside a mapping");
      }
    }

    // The walk: mappings starting inside [iova, iova+size), ascending.
    if (hits === null) {
      hits = [];
      for (const slot of endWraps ? [] : this.dmas.overlapping(iova, last)) {
        const dma = this.dmas.at(slot);
        if (!this.v2 && iova > dma.iova) break; // v1: a request starting inside a mapping stops here
        hits.push(dma);
      }
    }

    if (invalidate) {
      if (hits.some((d) => d.vaddrInvalid)) fail("EINVAL", op, "a mapping's vaddr is already invalid");
      let n = 0n;
      for (const dma of hits) {
        dma.vaddrInvalid = true;
        this.vaddrInvalidCount++;
        n += dma.size;
      }
      return n;
    }

    let unmapped = 0n;
    for (const dma of hits) {
      // Each mapping's dirty bits are copied out just before it goes; a fault there ends the call
      // with the earlier mappings already removed (the kernel's own partial effect; nothing is
      // written back on error, so the caller cannot tell how many).
      if (req.bitmap) this.reportDirty(req.bitmap, dma, iova);
      unmapped += dma.size;
      this.removeDma(dma);
    }
    return unmapped;
  }

  /** `vfio_remove_dma`. */
  private removeDma(dma: VfioDma): void {
    this.unmapUnpin(dma);
    if (this.dirtyBitmaps.size > 0) this.dirtyBitmaps.delete(dma.iova);
    if (dma.vaddrInvalid) this.vaddrInvalidCount--;
    this.dmas.remove(dma.slot);
    this.dmaAvail++;
  }

  /** `vfio_unmap_unpin`: out of every domain, unpinned, uncharged. */
  private unmapUnpin(dma: VfioDma): void {
    for (const vd of this.domains) vd.domain.unmap(dma.iova, dma.last);
    if (dma.iommuMapped) this.unpinDma(dma);
  }

  private unmapAll(): void {
    for (const dma of this.mappings()) this.removeDma(dma);
  }

  /** `vfio_iommu_unmap_unpin_reaccount`: the last domain left, emulated groups remain. */
  private unpinAllKeepBookkeeping(): void {
    for (const dma of this.mappings()) this.unmapUnpin(dma);
  }

  // ---------------------------------------------------------------- dirty tracking

  startDirtyTracking(): void {
    if (this.dirtyTracking) return;
    if (shouldFail("type1.bitmap_alloc")) fail("ENOMEM", "vfio_dma_bitmap_alloc_all", "injected");
    for (const dma of this.mappings()) this.dirtyBitmaps.set(dma.iova, { all: false, pages: new Set() });
    this.dirtyTracking = true;
  }

  stopDirtyTracking(): void {
    if (!this.dirtyTracking) return;
    this.dirtyTracking = false;
    this.dirtyBitmaps.clear();
  }

  /**
   * `vfio_iova_dirty_bitmap` after the ioctl's argument checks: the range must not cut a mapping;
   * each mapping's bits go to the user bitmap, then its bitmap is cleared.
   */
  getDirtyBitmap(iova: bigint, size: bigint, bitmap: UserBitmap): void {
    const op = "vfio_iova_dirty_bitmap";
    const pgsize = this.pgsize;
    if (bitmap.pgsize !== pgsize) fail("EINVAL", op, "bitmap pgsize is not the smallest page size");
    if ((iova & (pgsize - 1n)) !== 0n) fail("EINVAL", op, "iova misaligned");
    if (size === 0n || (size & (pgsize - 1n)) !== 0n) fail("EINVAL", op, "size 0 or misaligned");
    if (!this.dirtyTracking) fail("EINVAL", op, "dirty tracking is off");
    const head = this.findDma(iova, 1n);
    if (head && head.iova !== iova) fail("EINVAL", op, "the range starts inside a mapping");
    const tail = this.findDma(iova + size - 1n, 0n);
    if (tail && tail.iova + tail.size !== iova + size) fail("EINVAL", op, "the range ends inside a mapping");
    for (const dma of this.mappings()) {
      if (dma.iova < iova) continue;
      if (dma.iova > iova + size - 1n) break;
      this.reportDirty(bitmap, dma, iova);
      const bits = this.dirtyBitmaps.get(dma.iova);
      if (bits) {
        bits.all = false;
        bits.pages.clear();
      }
    }
  }

  /**
   * `update_user_bitmap`: OR the mapping's bits into the user bitmap at its offset from `base`.
   * With an IOMMU-backed group every pinned page counts as dirty (type1 cannot see device writes).
   */
  private reportDirty(user: UserBitmap, dma: VfioDma, base: bigint): void {
    const pgshift = BigInt(user.pgsize.toString(2).length - 1);
    const nbits = dma.size >> pgshift;
    const bitOffset = (dma.iova - base) >> pgshift;
    const copyOffset = bitOffset / 64n;
    const shift = bitOffset % 64n;
    const bitmap = this.dirtyBitmaps.get(dma.iova);
    const all = (this.nonPinnedGroups > 0 && dma.iommuMapped) || (bitmap?.all ?? false);
    const totalBits = nbits + shift;
    const bytes = Number(((totalBits + 63n) / 64n) * 8n);
    const out = new Uint8Array(bytes);
    const setBit = (i: bigint): void => {
      const n = Number(i);
      out[n >> 3]! |= 1 << (n & 7);
    };
    if (all) {
      for (let i = 0n; i < nbits; i++) setBit(i + shift);
    } else if (bitmap) {
      for (const p of bitmap.pages) setBit(p + shift);
    }
    const addr = user.data + copyOffset * 8n;
    // update_user_bitmap's copy_to_user (EFAULT); mappings reported before stay cleared.
    if (shouldFail("type1.copy_to_user")) fail("EFAULT", "update_user_bitmap", "injected");
    if (shift > 0n) {
      // The bits below `shift` in the first word belong to the previous mapping: keep them.
      const leftover = user.memory.read(addr, 8);
      for (let i = 0; i < Number(shift); i++) if ((leftover[i >> 3]! >> (i & 7)) & 1) setBit(BigInt(i));
    }
    user.memory.write(addr, out);
  }

  // ---------------------------------------------------------------- seed 003

  /**
   * Seed 003 (never merged upstream): register a user-chosen sw-MSI window in every domain, or in none.
   * The domains already set up are unwound in reverse when the N-th fails.
   */
  reserveMsiIova(iova: bigint, size: bigint): void {
    const op = "vfio_dma_map_msi_reserved_iova";
    if (!this.options.msiReservedIova) fail("EINVAL", op, "MSI_RESERVED_IOVA is not enabled");
    const pgmask = this.pgsize - 1n;
    if (size === 0n || ((iova | size) & pgmask) !== 0n) fail("EINVAL", op, "size 0 or misaligned");
    if (iova + size - 1n > U64_MAX) fail("EINVAL", op, "range wraps");
    if (this.msiReserved !== null) fail("EEXIST", op, "an MSI window is already reserved");
    const swMsiDomains = this.domains.filter((d) =>
      d.groups.some((g) => swMsiBase(g.iommuGroup.reservedRegions) !== null),
    );
    if (this.domains.length === 0 || swMsiDomains.length === 0) {
      fail("EINVAL", op, "no domain uses a software-managed MSI window");
    }
    if (this.findDma(iova, size)) fail("EEXIST", op, "overlaps an existing mapping");
    if (!listAllows(this.iovaList, iova, iova + size - 1n))
      fail("EINVAL", op, "outside the valid IOVA ranges");
    // Reserve → fill → publish: the new doorbell goes into every domain first; the kernel-chosen
    // windows are dropped only once all domains accepted it.
    const done: Type1Domain[] = [];
    try {
      for (const vd of this.domains) {
        if (shouldFail("type1.msi_cookie")) fail("ENOMEM", "iommu_get_msi_cookie", "injected");
        vd.domain.map(iova, [{ object: DOORBELL, objectOffset: 0n, length: PAGE_SIZE }], false, true);
        done.push(vd);
      }
    } catch (e) {
      for (const vd of done.reverse()) vd.domain.unmap(iova, iova + PAGE_SIZE - 1n);
      if (e instanceof IoasError) {
        throw new IoasError(e.errno, op, `domain ${done.length + 1} of ${this.domains.length} failed`, {
          registered: done.length,
          failedDomain: done.length,
        });
      }
      throw e;
    }
    for (const vd of this.domains) {
      this.removeMsiCookie(vd);
      vd.msiCookie = iova;
    }
    this.msiReserved = { iova, size };
  }

  // ---------------------------------------------------------------- snapshot

  snapshot(): Type1Snapshot {
    return {
      mode: this.mode,
      pgsizeBitmap: hex(this.pgsizeBitmap),
      dmaAvail: this.dmaAvail,
      iovaList: this.iovaList.map(rangeJson),
      dirtyTracking: this.dirtyTracking,
      vaddrInvalidCount: this.vaddrInvalidCount,
      nonPinnedGroups: this.nonPinnedGroups,
      emulatedGroups: this.emulatedGroups.map((g) => g.id),
      msiReserved: this.msiReserved
        ? { iova: hex(this.msiReserved.iova), size: hex(this.msiReserved.size) }
        : null,
      domains: this.domains.map((d) => ({
        unit: d.unit.name,
        groups: d.groups.map((g) => g.id),
        coherent: d.enforceCacheCoherency,
        msiCookie: d.msiCookie === null ? null : hex(d.msiCookie),
        extents: d.domain.mappedExtents,
        mapped: hex(d.domain.translations().reduce((n, t) => n + t.last - t.start + 1n, 0n)),
      })),
      dmas: this.mappings().map((d) => ({
        iova: hex(d.iova),
        size: hex(d.size),
        vaddr: hex(d.vaddr),
        prot: `${d.read ? "r" : "-"}${d.write ? "w" : "-"}`,
        vaddrInvalid: d.vaddrInvalid,
        pinned: d.iommuMapped,
        lockedPages: hex(d.lockedPages),
      })),
    };
  }
}

/** `vfio_iommu_has_sw_msi`: the sw-MSI base, unless a hardware MSI region exists (it wins). */
export function swMsiBase(regions: readonly ReservedRegion[]): bigint | null {
  let base: bigint | null = null;
  for (const r of regions) {
    if (r.type === "msi") return null;
    if (r.type === "sw-msi") base = r.start;
  }
  return base;
}
