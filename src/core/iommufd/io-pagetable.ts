/**
 * io_pagetable: one IOAS's address space (semantics.md §2.5–§2.9, §2.11). Knows nothing of ioctls.
 *
 * Terms:
 *   area       a user mapping [iova, last] → bytes [startByte, startByte + length) of a page store;
 *              a row of the IOAS's `AreaTable` (its store inline while simple, else an `IoptPages`).
 *   allowed    the user's allow-list (ALLOW_IOVAS); empty = everything. Restricts automatic IOVA
 *              allocation only, and blocks reservations.
 *   reserved   intervals that may never be mapped, each with an owner (a domain's outside-aperture
 *              parts, a device's reserved regions, a test reservation). They may overlap.
 *   domains    the IOMMU domains of the IOAS's paging HWPTs; every area is mapped into each of them.
 *              The first is the storage domain.
 *   alignment  `iova_alignment` (§2.6): 1, raised by domains' smallest page, disabled large pages and
 *              accesses; every area's iova, length and VA page offset are multiples of it.
 *
 * Invariants when adding: a reservation may not meet an area or an allowed range (EADDRINUSE); an
 * allowed range may not meet a reservation (EADDRINUSE); an area may not meet a reservation (EINVAL)
 * or another area (EEXIST). Work is reserve → fill → publish and is unwound in reverse on failure;
 * the one exception is the range unmap, which keeps the kernel's partial progress (§2.11).
 */

import { TableMirror, type BackingSegment, type IommuDomain } from "../domain.js";
import { fail, IoasError } from "../errno.js";
import { shouldFail } from "../fault.js";
import { complement, normalize, type IovaRange } from "../ranges.js";
import { PAGE_SIZE, ULONG_MAX, alignUp, lowestSetBit, roundUpPowerOfTwo } from "../u64.js";
import { AreaTable } from "./area-table.js";
import { IoptPages, type PinTarget } from "./pages.js";

/** Owner of reserved intervals (a domain, a device, a test reservation). */
export interface ReservedOwner {
  readonly label: string;
}

export interface ReservedInterval extends IovaRange {
  readonly owner: ReservedOwner;
}

/** An emulated user of the IOAS (iommufd_access): pins pages and must be told about unmaps. */
export interface IoptAccess {
  readonly iovaAlignment: bigint;
  /** The IOAS wants [iova, iova + length) gone: the access must drop its pins there. */
  notifyUnmap(iova: bigint, length: bigint): void;
}

/**
 * One slice of pages to become one area (`struct iopt_pages_list`): of an existing store (COPY), or
 * of a new one a MAP made for it (kept inline in the area's row).
 */
export interface PagesSlice {
  readonly pages: IoptPages | PinTarget;
  readonly startByte: bigint;
  readonly length: bigint;
}

/** A slice of an existing store (`getPages`). */
export interface SharedSlice extends PagesSlice {
  readonly pages: IoptPages;
}

export interface UnmapResult {
  /** Bytes of the areas removed (also when an error stopped the walk). */
  readonly unmapped: bigint;
  /** Set when the walk failed; areas removed before the failure stay removed. */
  readonly error?: IoasError;
}

/** Why a rule refused, with the kernel's errno; thrown by the helpers below. */
function refuse(
  errno: "EINVAL" | "EADDRINUSE" | "EEXIST" | "EOVERFLOW" | "ENOSPC" | "EPERM",
  op: string,
  msg: string,
): never {
  fail(errno, op, msg);
}

const MAX_UNMAP_NOTIFY_ROUNDS = 100;

export class IoPagetable {
  readonly areas = new AreaTable();
  /** What every domain of this IOAS shows of `areas` (its one-run pinned areas, `AreaTable.shownAt`). */
  private readonly mirror = new TableMirror(this.areas);
  /** Normalised allow-list as given (kept in input order of validity; empty = no restriction). */
  private allowedRanges: IovaRange[] = [];
  private reservedList: ReservedInterval[] = [];
  readonly domains: IommuDomain[] = [];
  readonly accesses = new Set<IoptAccess>();
  disableLargePages = false;
  private alignment = 1n;
  /** THP size: the cap of automatic IOVA alignment (PAGE_SIZE on kernels without THP). */
  private readonly maxAutoAlignment: bigint;

  constructor(opts: { thpSize: bigint }) {
    this.maxAutoAlignment = opts.thpSize;
  }

  get iovaAlignment(): bigint {
    return this.alignment;
  }

  get allowed(): readonly IovaRange[] {
    return this.allowedRanges;
  }

  get reserved(): readonly ReservedInterval[] {
    return this.reservedList;
  }

  /** IOVA_RANGES: the holes of the reserved set over [0, ULONG_MAX] (allow-list and areas ignored). */
  iovaRanges(): IovaRange[] {
    return complement(this.reservedList);
  }

  private reservedOverlaps(start: bigint, last: bigint): boolean {
    for (const r of this.reservedList) if (r.start <= last && start <= r.last) return true;
    return false;
  }

  private allowedOverlaps(start: bigint, last: bigint): boolean {
    return this.allowedRanges.some((r) => r.start <= last && start <= r.last);
  }

  // ---- reservations ----

  /** iopt_reserve_iova: EADDRINUSE when an area or an allowed range lies there. */
  reserve(start: bigint, last: bigint, owner: ReservedOwner, op: string): void {
    if (this.areas.hasOverlap(start, last) || this.allowedOverlaps(start, last))
      refuse(
        "EADDRINUSE",
        op,
        `reservation [${start.toString(16)}, ${last.toString(16)}] meets a mapping or allowed range`,
      );
    if (shouldFail("iopt.reserve")) fail("ENOMEM", op, "injected: reservation allocation");
    this.reservedList.push({ start, last, owner });
  }

  /** Remove every interval `owner` holds. Never fails. */
  removeReserved(owner: ReservedOwner): void {
    this.reservedList = this.reservedList.filter((r) => r.owner !== owner);
  }

  // ---- allowed ranges ----

  /**
   * iopt_set_allow_iova: replace the allow-list atomically. The caller validated `ranges` (each
   * start < last, no overlaps); EADDRINUSE if one meets a reservation (old list kept).
   */
  setAllowed(ranges: readonly IovaRange[], op: string): void {
    for (const r of ranges)
      if (this.reservedOverlaps(r.start, r.last))
        refuse(
          "EADDRINUSE",
          op,
          `allowed range [${r.start.toString(16)}, ${r.last.toString(16)}] meets a reservation`,
        );
    this.allowedRanges = [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  }

  // ---- alignment ----

  /** iopt_check_iova_alignment: every area must honour `align` (EADDRINUSE). */
  private checkAlignment(align: bigint, op: string): void {
    const mask = align - 1n;
    const areas = this.areas;
    for (const s of areas.slots())
      if (
        (areas.iovaAt(s) & mask) !== 0n ||
        (areas.lengthAt(s) & mask) !== 0n ||
        ((areas.startByteAt(s) % PAGE_SIZE) & mask) !== 0n
      )
        refuse("EADDRINUSE", op, `mapping at 0x${areas.iovaAt(s).toString(16)} is not ${align}-aligned`);
  }

  private computeAlignment(extraDomain?: IommuDomain): bigint {
    let align = this.disableLargePages ? PAGE_SIZE : 1n;
    for (const d of extraDomain ? [...this.domains, extraDomain] : this.domains)
      if (d.minPageSize > align) align = d.minPageSize;
    for (const a of this.accesses) if (a.iovaAlignment > align) align = a.iovaAlignment;
    return align;
  }

  /** iopt_calculate_iova_alignment: raising re-checks the areas (EADDRINUSE); lowering never fails. */
  recalculateAlignment(op: string): void {
    const next = this.computeAlignment();
    if (next > this.alignment) this.checkAlignment(next, op);
    this.alignment = next;
  }

  /** HUGE_PAGES=0 / compat TYPE1 (iopt_disable_large_pages). */
  setLargePages(enable: boolean, op: string): void {
    if (enable) {
      this.disableLargePages = false;
      this.recalculateAlignment(op);
      return;
    }
    if (this.disableLargePages) return;
    // Domains may already hold large IOPTEs for existing areas.
    if (this.domains.length > 0 && this.areas.size > 0) refuse("EINVAL", op, "domains already hold mappings");
    this.disableLargePages = true;
    try {
      this.recalculateAlignment(op);
    } catch (e) {
      this.disableLargePages = false;
      throw e;
    }
  }

  // ---- IOVA allocation and checks ----

  /**
   * The fixed-IOVA checks of iopt_check_iova, in the kernel's order; the last one (EEXIST, an
   * existing area there) is left to the caller when `overlapCheckedByInsert`.
   */
  private checkIova(iova: bigint, length: bigint, op: string, overlapCheckedByInsert: boolean): void {
    if ((iova & (this.alignment - 1n)) !== 0n) refuse("EINVAL", op, "IOVA not aligned to the IOAS alignment");
    const last = iova + length - 1n;
    if (last > ULONG_MAX) refuse("EOVERFLOW", op, "IOVA range wraps");
    if (this.reservedOverlaps(iova, last)) refuse("EINVAL", op, "IOVA range meets a reserved range");
    if (!overlapCheckedByInsert && this.areas.hasOverlap(iova, last))
      refuse("EEXIST", op, "IOVA range meets an existing mapping");
  }

  /**
   * iopt_alloc_iova (§2.8): first fit inside the allowed spans (clipped to [PAGE_SIZE, ULONG_MAX -
   * PAGE_SIZE]) over the holes of reserved ∪ areas, keeping the VA's sub-page offset.
   */
  allocIova(addr: bigint, length: bigint, op: string): bigint {
    if (length === 0n || length >= ULONG_MAX / 2n) refuse("EOVERFLOW", op, "length too large to align");
    const pageOffset = addr % PAGE_SIZE;
    let align = roundUpPowerOfTwo(length);
    if (addr !== 0n) {
      const low = lowestSetBit(addr);
      if (low < align) align = low;
    }
    if (align >= this.maxAutoAlignment) align = this.maxAutoAlignment;
    if (align < this.alignment) refuse("EINVAL", op, "automatic alignment below the IOAS alignment");

    const lo = PAGE_SIZE;
    const hi = ULONG_MAX - PAGE_SIZE;
    const spans =
      this.allowedRanges.length === 0
        ? [{ start: lo, last: hi }]
        : normalize(this.allowedRanges)
            .map((r) => ({ start: r.start > lo ? r.start : lo, last: r.last < hi ? r.last : hi }))
            .filter((r) => r.start <= r.last);
    // First fit over the holes of areas ∪ reserved: walk the areas' holes (ExtentIndex.forEachHole
    // skips whole leaves that have no hole of `length` bytes) and cut the reservations out of each.
    const resv = normalize(this.reservedList);
    for (const span of spans) {
      if (fitIn(span.start, span.last, length, align, pageOffset) === undefined) continue;
      let found: bigint | undefined;
      this.areas.forEachHole(span.start, span.last, length, (hs, hl) => {
        const inHole = resv.filter((r) => r.start <= hl && hs <= r.last);
        for (const hole of inHole.length === 0
          ? [{ start: hs, last: hl }]
          : complement(inHole, { start: hs, last: hl })) {
          found = fitIn(hole.start, hole.last, length, align, pageOffset);
          if (found !== undefined) return true;
        }
        return false;
      });
      if (found !== undefined) return found;
    }
    refuse("ENOSPC", op, "no free IOVA range fits");
  }

  // ---- map ----

  /**
   * iopt_map_pages: create areas for `slices` at `iova` (or an allocated IOVA when `iova` is
   * undefined; `hintAddr` is the VA that guides its alignment), map them into every domain, publish.
   * Returns the IOVA. Nothing changes on failure.
   */
  mapPages(
    slices: readonly PagesSlice[],
    length: bigint,
    iova: bigint | undefined,
    hintAddr: bigint,
    read: boolean,
    write: boolean,
    op: string,
  ): bigint {
    for (let i = 0; i < slices.length; i++)
      if (shouldFail("iopt.area_alloc")) fail("ENOMEM", op, "injected: area allocation");
    if (length === 0n || (length & (this.alignment - 1n)) !== 0n)
      refuse("EINVAL", op, "length not a multiple of the IOAS alignment");
    // One slice at a fixed IOVA (every MAP): inserting its area is the EEXIST check — one search
    // instead of a lookup and an insert; the area is taken out again if a later check refuses.
    const insertFirst = iova !== undefined && slices.length === 1;
    let at: bigint;
    if (iova === undefined) at = this.allocIova(hintAddr, length, op);
    else {
      this.checkIova(iova, length, op, insertFirst);
      at = iova;
    }

    // Sized to the slices: a pushed-to empty array reserves 17 slots (nearly every MAP has one).
    const inserted = new Array<number>(slices.length);
    let count = 0;
    const areas = this.areas;
    try {
      let cur = at;
      for (const s of slices) {
        // iopt_insert_area
        const last = cur + s.length - 1n;
        let placed = false;
        if (insertFirst) {
          const slot = this.insertSlice(s, cur, last, read, write);
          if (slot < 0) refuse("EEXIST", op, "IOVA range meets an existing mapping");
          inserted[count++] = slot;
          placed = true;
        }
        if (write && !s.pages.writable) refuse("EPERM", op, "writeable mapping of read-only pages");
        if (((s.startByte % PAGE_SIZE) & (this.alignment - 1n)) !== 0n)
          refuse("EINVAL", op, "VA page offset not aligned to the IOAS alignment");
        if (last > ULONG_MAX) refuse("EOVERFLOW", op, "IOVA range wraps");
        if (!placed) {
          const slot = this.insertSlice(s, cur, last, read, write);
          if (slot < 0) throw new Error("iopt: area overlaps another (engine bug)");
          inserted[count++] = slot;
        }
        cur = last + 1n;
      }
      for (let i = 0; i < count; i++) {
        try {
          this.fillDomains(inserted[i]!, op);
        } catch (e) {
          for (let j = i - 1; j >= 0; j--) this.unfillDomains(inserted[j]!);
          throw e;
        }
      }
    } catch (e) {
      for (let i = count - 1; i >= 0; i--) areas.remove(inserted[i]!);
      throw e;
    }
    return at;
  }

  /** Add the area of one slice: over its existing store, or with its new store inline. -1 on overlap. */
  private insertSlice(s: PagesSlice, first: bigint, last: bigint, read: boolean, write: boolean): number {
    return s.pages instanceof IoptPages
      ? this.areas.insertShared(first, last, s.pages, s.startByte, read, write)
      : this.areas.insertInline(first, last, s.startByte, s.pages, read, write);
  }

  /** Pin an area's pages and map it into every domain (all or nothing). */
  private fillDomains(slot: number, op: string): void {
    if (this.domains.length === 0) return;
    const areas = this.areas;
    areas.pin(slot, op);
    const domains = this.domains;
    let done = 0;
    try {
      const segs = this.pinnedBacking(slot);
      for (; done < domains.length; done++) this.mapArea(domains[done]!, slot, segs);
    } catch (e) {
      const iova = areas.iovaAt(slot);
      const last = areas.lastAt(slot);
      for (let k = done - 1; k >= 0; k--) domains[k]!.unmap(iova, last);
      areas.unpin(slot);
      throw e;
    }
  }

  /**
   * The pinned backing of a pinned area: null when one run of one object covers it (nearly always;
   * the area is then its own translation, `oneRun`), else its segments. Sets the area's `oneRun`.
   */
  private pinnedBacking(slot: number): BackingSegment[] | null {
    const oneRun = this.areas.backedByOneRun(slot);
    this.areas.setOneRun(slot, oneRun);
    return oneRun ? null : this.areas.segmentsAt(slot);
  }

  /** Map a pinned area into `domain`: itself when one run backs it, else its segments. */
  private mapArea(domain: IommuDomain, slot: number, segs: BackingSegment[] | null): void {
    const areas = this.areas;
    if (segs === null) domain.mapRecord(areas.at(slot));
    else domain.map(areas.iovaAt(slot), segs, areas.readAt(slot), areas.writeAt(slot), areas.lastAt(slot));
  }

  private unfillDomains(slot: number): void {
    const iova = this.areas.iovaAt(slot);
    const last = this.areas.lastAt(slot);
    for (const d of this.domains) d.unmap(iova, last);
    this.areas.unpin(slot);
  }

  // ---- slices of existing areas (COPY source) ----

  /**
   * iopt_get_pages: the slices covering [iova, iova + length) of back-to-back areas. ENOENT when any
   * byte of the range is not mapped.
   */
  getPages(iova: bigint, length: bigint, op: string): SharedSlice[] {
    const last = iova + length - 1n;
    if (last > ULONG_MAX) refuse("EOVERFLOW", op, "source range wraps");
    const out: SharedSlice[] = [];
    let cur = iova;
    const areas = this.areas;
    for (const slot of areas.overlapping(iova, last)) {
      if (areas.iovaAt(slot) > cur) break;
      const areaLast = areas.lastAt(slot);
      const sliceLast = areaLast < last ? areaLast : last;
      const startByte = areas.startByteAt(slot) + (cur - areas.iovaAt(slot));
      out.push({ pages: areas.pagesOf(slot), startByte, length: sliceLast - cur + 1n });
      if (sliceLast === last) return out;
      cur = sliceLast + 1n;
    }
    fail("ENOENT", op, "source range not fully mapped");
  }

  // ---- unmap ----

  /**
   * iopt_unmap_iova_range: remove the areas inside [start, last] in ascending order. An area crossing
   * either bound stops the walk with ENOENT — **areas removed before it stay removed** (the kernel's
   * partial effect, the one documented exception to "a failing operation changes nothing"). Nothing
   * removed at all is ENOENT too.
   */
  unmapRange(start: bigint, last: bigint, op: string): UnmapResult {
    let unmapped = 0n;
    let rounds = 0;
    let lastStart: bigint | undefined;
    const areas = this.areas;
    for (;;) {
      const slot = areas.firstOverlapping(start, last);
      if (slot < 0) break;
      const areaStart = areas.iovaAt(slot);
      const areaLast = areas.lastAt(slot);
      if (areaStart < start || areaLast > last)
        return { unmapped, error: new IoasError("ENOENT", op, "a mapping crosses the range boundary") };
      if (areaStart !== lastStart) rounds = 0;
      lastStart = areaStart;
      if (areas.accessesAt(slot) > 0) {
        // Ask every access to drop its pins, then look again.
        const length = areas.lengthAt(slot);
        for (const acc of [...this.accesses]) acc.notifyUnmap(areaStart, length);
        if (++rounds > MAX_UNMAP_NOTIFY_ROUNDS)
          return { unmapped, error: new IoasError("EDEADLOCK", op, "an access does not release its pins") };
        continue;
      }
      unmapped += areas.lengthAt(slot);
      this.unfillDomains(slot);
      areas.remove(slot); // the lookup's cursor is still on it: no second search
      // An area ending at `last` is the last one the range can hold: no search for a next one.
      if (areaLast === last) break;
    }
    if (unmapped === 0n)
      return { unmapped, error: new IoasError("ENOENT", op, "nothing mapped in the range") };
    return { unmapped };
  }

  // ---- splitting (compat TYPE1) ----

  /**
   * iopt_cut_iova: split the area containing each IOVA so that the IOVA becomes an area's last byte.
   * Stops at the first refusal (earlier cuts stay, as in the kernel; a cut changes no translation).
   */
  cutIova(iovas: readonly bigint[], op: string): void {
    for (const iova of iovas) {
      const slot = this.areas.find(iova);
      if (slot >= 0) this.splitArea(slot, iova, op);
    }
  }

  private splitArea(slot: number, iova: bigint, op: string): void {
    const areas = this.areas;
    const first = areas.iovaAt(slot);
    const last = areas.lastAt(slot);
    if (iova === first || iova === last) return;
    const newStart = iova + 1n;
    const startByte = areas.startByteAt(slot);
    const rhsStartByte = startByte + (newStart - first);
    const mask = this.alignment - 1n;
    if ((newStart & mask) !== 0n || (rhsStartByte & mask) !== 0n)
      refuse("EINVAL", op, "cut point not aligned to the IOAS alignment");
    if (shouldFail("iopt.area_alloc") || shouldFail("iopt.area_alloc"))
      fail("ENOMEM", op, "injected: area allocation");
    if (areas.accessesAt(slot) > 0) refuse("EINVAL", op, "an access has pages pinned in the mapping");
    // A domain may hold large IOPTEs for the area.
    if (this.domains.length > 0 && !this.disableLargePages)
      refuse("EINVAL", op, "large pages may back the mapping");
    // The halves share the area's store (it becomes an object here if it was the row's own).
    const pages = areas.pagesOf(slot);
    const holder = areas.holderOf(slot);
    const read = areas.readAt(slot);
    const write = areas.writeAt(slot);
    const oneRun = areas.oneRunAt(slot);
    const held = areas.holdsPin(slot);
    areas.remove(slot);
    const lhs = areas.insertShared(first, iova, pages, startByte, read, write);
    const rhs = areas.insertShared(newStart, last, pages, rhsStartByte, read, write);
    // Halves of a one-run area are one run: the domains show them as they showed the whole.
    areas.setOneRun(lhs, oneRun);
    areas.setOneRun(rhs, oneRun);
    if (held)
      pages.rehold(holder, [
        { holder: areas.holderOf(lhs), range: areas.pageRangeAt(lhs) },
        { holder: areas.holderOf(rhs), range: areas.pageRangeAt(rhs) },
      ]);
  }

  // ---- domains ----

  /**
   * iopt_table_add_domain (§2.9): alignment, aperture reservations (owned by `owner`), fill with
   * every area, publish. Unwound completely on failure.
   */
  addDomain(domain: IommuDomain, owner: ReservedOwner, op: string): void {
    const next = domain.minPageSize > this.alignment ? domain.minPageSize : this.alignment;
    if (next > PAGE_SIZE) refuse("EINVAL", op, "domain page size larger than PAGE_SIZE");
    if (next !== this.alignment) this.checkAlignment(next, op);
    try {
      const ap = domain.aperture;
      if (ap.start !== 0n) this.reserve(0n, ap.start - 1n, owner, op);
      if (ap.last !== ULONG_MAX) this.reserve(ap.last + 1n, ULONG_MAX, owner, op);
      if (shouldFail("iopt.domain_slot")) fail("ENOMEM", op, "injected: domain slot");
      domain.setMirror(this.mirror);
      this.fillDomain(domain, op);
    } catch (e) {
      domain.setMirror(null);
      this.removeReserved(owner);
      throw e;
    }
    this.alignment = next;
    this.domains.push(domain);
  }

  /** iopt_fill_domain: map every area into a new domain, pinning what is not pinned yet. */
  private fillDomain(domain: IommuDomain, op: string): void {
    const areas = this.areas;
    const filled: number[] = [];
    const pinnedHere: number[] = [];
    try {
      for (const slot of areas.slots()) {
        if (!areas.holdsPin(slot)) {
          areas.pin(slot, op);
          pinnedHere.push(slot);
        }
        this.mapArea(domain, slot, this.pinnedBacking(slot));
        filled.push(slot);
      }
    } catch (e) {
      for (const slot of filled.reverse()) domain.unmap(areas.iovaAt(slot), areas.lastAt(slot));
      for (const slot of pinnedHere) areas.unpin(slot);
      throw e;
    }
  }

  /** iopt_table_remove_domain: unmap everything from it, drop its reservations. Never fails. */
  removeDomain(domain: IommuDomain, owner: ReservedOwner): void {
    const i = this.domains.indexOf(domain);
    if (i < 0) return;
    // The xarray slot of the last domain moves into the hole.
    const lastDomain = this.domains.pop()!;
    if (lastDomain !== domain) this.domains[i] = lastDomain;
    const areas = this.areas;
    for (const slot of areas.slots()) {
      domain.unmap(areas.iovaAt(slot), areas.lastAt(slot));
      if (this.domains.length === 0) areas.unpin(slot);
    }
    domain.setMirror(null);
    this.removeReserved(owner);
    this.recalculateAlignment("iopt_table_remove_domain");
  }

  /**
   * iopt_table_enforce_dev_resv_regions: reserve a device's own regions (relaxable ones skipped). On
   * failure every interval of `owner` is removed.
   */
  enforceDeviceRegions(
    regions: readonly { start: bigint; last: bigint; type: string }[],
    owner: ReservedOwner,
    op: string,
  ): { swMsiStart: bigint | undefined } {
    if (shouldFail("iommufd.resv_regions")) refuse("EINVAL", op, "injected: reserved-region enforcement");
    let hwMsi = 0;
    let swMsi = 0;
    let swMsiStart: bigint | undefined;
    try {
      for (const r of regions) {
        if (r.type === "direct-relaxable") continue;
        if (r.type === "msi") hwMsi++;
        if (r.type === "sw-msi") {
          swMsi++;
          swMsiStart = r.start;
        }
        this.reserve(r.start, r.last, owner, op);
      }
      // Drivers must offer sane combinations of MSI regions.
      if ((swMsi > 0 && hwMsi > 0) || swMsi > 1) refuse("EINVAL", op, "inconsistent MSI regions");
    } catch (e) {
      this.removeReserved(owner);
      throw e;
    }
    return { swMsiStart };
  }

  /** Destroy: unmap everything (IOAS destroy, fd close). Never fails. */
  destroy(): void {
    for (const slot of this.areas.slots()) {
      this.unfillDomains(slot);
      this.areas.remove(slot);
    }
  }
}

/** __alloc_iova_check_range: round `start` up to `align`, keep the page offset, and fit `length`. */
function fitIn(
  start: bigint,
  last: bigint,
  length: bigint,
  align: bigint,
  pageOffset: bigint,
): bigint | undefined {
  if (start + align - 1n > ULONG_MAX) return undefined;
  const at = alignUp(start, align) | pageOffset;
  if (at >= last || last - at < length - 1n) return undefined;
  return at;
}
