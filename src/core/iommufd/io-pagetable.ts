/**
 * io_pagetable: one IOAS's address space (semantics.md §2.5–§2.9, §2.11). Knows nothing of ioctls.
 *
 * Terms:
 *   area       a user mapping [iova, last] → bytes [startByte, startByte + length) of an `IoptPages`.
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

import { TreeMirror, type BackingSegment, type IommuDomain, type TranslationRecord } from "../domain.js";
import { fail, IoasError } from "../errno.js";
import { ExtentMap, type Extent } from "../extent-map.js";
import { shouldFail } from "../fault.js";
import { complement, normalize, type IovaRange } from "../ranges.js";
import { PAGE_SIZE, ULONG_MAX, alignUp, lowestSetBit, roundUpPowerOfTwo, sharedPowerOfTwo } from "../u64.js";
import { IoptPages } from "./pages.js";
import type { MemoryObject } from "../../process/memory.js";

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

const AREA_READ = 1;
const AREA_WRITE = 2;
const AREA_ONE_RUN = 4;
/** The access-pin count sits above the three flag bits (a small integer: the field stays a Smi). */
const AREA_ACCESS_SHIFT = 3;

export class Area implements Extent<Area> {
  readonly iova: bigint;
  /**
   * Bytes of the area, the shared bigint when a power of two (`last` is derived: a field would hold
   * one more BigInt, 24 B, per area; the area tree keeps its own copy of `last` as a double).
   */
  private readonly bytes: bigint;
  readonly pages: IoptPages;
  /** Offset of `iova` inside the pages (bytes from `pages.uptr`). */
  readonly startByte: bigint;
  /** READ, WRITE and ONE_RUN bits, and the access-pin count above them (one field instead of four). */
  private flags: number;

  constructor(
    iova: bigint,
    last: bigint,
    pages: IoptPages,
    startByte: bigint,
    read: boolean,
    write: boolean,
  ) {
    this.iova = iova;
    this.bytes = sharedPowerOfTwo(last - iova + 1n);
    this.pages = pages;
    this.startByte = startByte;
    this.flags = (read ? AREA_READ : 0) | (write ? AREA_WRITE : 0);
  }

  get read(): boolean {
    return (this.flags & AREA_READ) !== 0;
  }

  /** Access pins inside this area (unmap notifies, splitting refuses). */
  get numAccesses(): number {
    return this.flags >>> AREA_ACCESS_SHIFT;
  }

  set numAccesses(n: number) {
    if (!Number.isInteger(n) || n < 0 || n >= 2 ** (31 - AREA_ACCESS_SHIFT)) {
      throw new RangeError(`iopt_area: access count ${n} out of range (engine bug)`);
    }
    this.flags = (this.flags & ((1 << AREA_ACCESS_SHIFT) - 1)) | (n << AREA_ACCESS_SHIFT);
  }

  get write(): boolean {
    return (this.flags & AREA_WRITE) !== 0;
  }

  /**
   * The area's bytes were pinned as one run of one memory object when it was last mapped into
   * domains: the area is then its own translation, shown by every domain of the IOAS (IoptMirror).
   */
  get oneRun(): boolean {
    return (this.flags & AREA_ONE_RUN) !== 0;
  }

  set oneRun(v: boolean) {
    this.flags = v ? this.flags | AREA_ONE_RUN : this.flags & ~AREA_ONE_RUN;
  }

  /** Mapped into the IOAS's domains (it holds its pages' pin) and shown by them as itself. */
  get mirrored(): boolean {
    return this.oneRun && this.pages.holds(this);
  }

  get length(): bigint {
    return this.bytes;
  }

  get last(): bigint {
    return this.iova + this.bytes - 1n;
  }

  /** The area is its own entry in the area tree (no wrapper object). */
  get start(): bigint {
    return this.iova;
  }

  get value(): Area {
    return this;
  }

  /** `area->page_offset`: the VA's offset within its CPU page. */
  get pageOffset(): bigint {
    return this.startByte % PAGE_SIZE;
  }

  /** Byte offset in the pages of `iova` (inside this area). */
  startByteOf(iova: bigint): bigint {
    return this.startByte + (iova - this.iova);
  }

  get pageRange(): IovaRange {
    return IoptPages.pageRange(this.startByte, this.length);
  }

  /**
   * Translation of an area whose bytes are backed by one run: the area is then its own entry in
   * every domain it is mapped into (`IommuDomain.mapRecord`). Read from the pinned backing, which
   * stays put while the area is mapped (runs may be split, never moved).
   */
  get object(): MemoryObject {
    return this.pages.backingAt(this.startByte).object;
  }

  get objectOffset(): bigint {
    const r = this.pages.backingAt(this.startByte);
    return r.objectOffset + (this.startByte - r.start);
  }
}

/** One slice of pages to become one area (`struct iopt_pages_list`). */
export interface PagesSlice {
  readonly pages: IoptPages;
  readonly startByte: bigint;
  readonly length: bigint;
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

/**
 * What every domain of an IOAS shows of its area tree (`DomainMirror`): an area pinned in one run is
 * mapped into every domain of the IOAS (`iopt_fill_domains` and `iopt_fill_domain` are all or
 * nothing), so the domains show the tree instead of each holding a copy.
 */
export class IoptMirror extends TreeMirror<Area> {
  protected isShown(area: Area): boolean {
    return area.mirrored;
  }

  shows(record: TranslationRecord): boolean {
    // Only this IOAS's areas are ever mapped into its domains.
    return record instanceof Area && record.oneRun;
  }
}

export class IoPagetable {
  readonly areas = new ExtentMap<Area>();
  /** What every domain of this IOAS shows of `areas` (see IoptMirror). */
  private readonly mirror = new IoptMirror(this.areas);
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
    for (const a of this.areas)
      if (
        (a.value.iova & mask) !== 0n ||
        (a.value.length & mask) !== 0n ||
        (a.value.pageOffset & mask) !== 0n
      )
        refuse("EADDRINUSE", op, `mapping at 0x${a.start.toString(16)} is not ${align}-aligned`);
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
    // First fit over the holes of areas ∪ reserved: walk the areas' holes (ExtentMap.forEachHole
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

    const inserted: Area[] = [];
    try {
      let cur = at;
      for (const s of slices) {
        // iopt_insert_area
        const last = cur + s.length - 1n;
        let area: Area | null = null;
        if (insertFirst) {
          area = new Area(cur, last, s.pages, s.startByte, read, write);
          if (!this.areas.insertExtent(area)) refuse("EEXIST", op, "IOVA range meets an existing mapping");
          inserted.push(area);
        }
        if (write && !s.pages.writable) refuse("EPERM", op, "writeable mapping of read-only pages");
        if (((s.startByte % PAGE_SIZE) & (this.alignment - 1n)) !== 0n)
          refuse("EINVAL", op, "VA page offset not aligned to the IOAS alignment");
        if (last > ULONG_MAX) refuse("EOVERFLOW", op, "IOVA range wraps");
        if (area === null) {
          area = new Area(cur, last, s.pages, s.startByte, read, write);
          if (!this.areas.insertExtent(area)) throw new Error("iopt: area overlaps another (engine bug)");
          inserted.push(area);
        }
        cur = last + 1n;
      }
      for (let i = 0; i < inserted.length; i++) {
        try {
          this.fillDomains(inserted[i]!, op);
        } catch (e) {
          for (let j = i - 1; j >= 0; j--) this.unfillDomains(inserted[j]!);
          throw e;
        }
      }
    } catch (e) {
      for (const a of inserted.reverse()) this.areas.removeEntry(a);
      throw e;
    }
    return at;
  }

  /** Pin an area's pages and map it into every domain (all or nothing). */
  private fillDomains(area: Area, op: string): void {
    if (this.domains.length === 0) return;
    area.pages.pin(area, area.pageRange, op);
    const domains = this.domains;
    let done = 0;
    try {
      const segs = this.pinnedBacking(area);
      for (; done < domains.length; done++) this.mapArea(domains[done]!, area, segs);
    } catch (e) {
      for (let k = done - 1; k >= 0; k--) domains[k]!.unmap(area.iova, area.last);
      area.pages.unpin(area);
      throw e;
    }
  }

  /**
   * The pinned backing of a pinned area: null when one run of one object covers it (nearly always;
   * the area is then its own translation, `oneRun`), else its segments. Sets `area.oneRun`.
   */
  private pinnedBacking(area: Area): BackingSegment[] | null {
    const oneRun = area.pages.backingAt(area.startByte).last >= area.startByte + area.length - 1n;
    area.oneRun = oneRun;
    return oneRun ? null : area.pages.segments(area.startByte, area.length);
  }

  /** Map a pinned area into `domain`: itself when one run backs it, else its segments. */
  private mapArea(domain: IommuDomain, area: Area, segs: BackingSegment[] | null): void {
    if (segs === null) domain.mapRecord(area);
    else domain.map(area.iova, segs, area.read, area.write, area.last);
  }

  private unfillDomains(area: Area): void {
    for (const d of this.domains) d.unmap(area.iova, area.last);
    area.pages.unpin(area);
  }

  // ---- slices of existing areas (COPY source) ----

  /**
   * iopt_get_pages: the slices covering [iova, iova + length) of back-to-back areas. ENOENT when any
   * byte of the range is not mapped.
   */
  getPages(iova: bigint, length: bigint, op: string): PagesSlice[] {
    const last = iova + length - 1n;
    if (last > ULONG_MAX) refuse("EOVERFLOW", op, "source range wraps");
    const out: PagesSlice[] = [];
    let cur = iova;
    for (const e of this.areas.overlapping(iova, last)) {
      if (e.start > cur) break;
      const a = e.value;
      const sliceLast = a.last < last ? a.last : last;
      out.push({ pages: a.pages, startByte: a.startByteOf(cur), length: sliceLast - cur + 1n });
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
    for (;;) {
      const e = this.areas.firstOverlapping(start, last);
      if (!e) break;
      const area = e.value;
      const areaLast = area.last;
      if (area.iova < start || areaLast > last)
        return { unmapped, error: new IoasError("ENOENT", op, "a mapping crosses the range boundary") };
      if (area.iova !== lastStart) rounds = 0;
      lastStart = area.iova;
      if (area.numAccesses > 0) {
        // Ask every access to drop its pins, then look again.
        for (const acc of [...this.accesses]) acc.notifyUnmap(area.iova, area.length);
        if (++rounds > MAX_UNMAP_NOTIFY_ROUNDS)
          return { unmapped, error: new IoasError("EDEADLOCK", op, "an access does not release its pins") };
        continue;
      }
      this.unfillDomains(area);
      this.areas.removeEntry(area); // the lookup's cursor is still on it: no second search
      unmapped += area.length;
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
      const e = this.areas.find(iova);
      if (!e) continue;
      this.splitArea(e.value, iova, op);
    }
  }

  private splitArea(area: Area, iova: bigint, op: string): void {
    if (iova === area.iova || iova === area.last) return;
    const newStart = iova + 1n;
    const mask = this.alignment - 1n;
    if ((newStart & mask) !== 0n || (area.startByteOf(newStart) & mask) !== 0n)
      refuse("EINVAL", op, "cut point not aligned to the IOAS alignment");
    if (shouldFail("iopt.area_alloc") || shouldFail("iopt.area_alloc"))
      fail("ENOMEM", op, "injected: area allocation");
    if (area.numAccesses > 0) refuse("EINVAL", op, "an access has pages pinned in the mapping");
    // A domain may hold large IOPTEs for the area.
    if (this.domains.length > 0 && !this.disableLargePages)
      refuse("EINVAL", op, "large pages may back the mapping");
    const lhs = new Area(area.iova, iova, area.pages, area.startByte, area.read, area.write);
    const rhs = new Area(newStart, area.last, area.pages, area.startByteOf(newStart), area.read, area.write);
    // Halves of a one-run area are one run: the domains show them as they showed the whole.
    lhs.oneRun = area.oneRun;
    rhs.oneRun = area.oneRun;
    this.areas.remove(area.iova);
    this.areas.insertExtent(lhs);
    this.areas.insertExtent(rhs);
    if (area.pages.holds(area))
      area.pages.rehold(area, [
        { holder: lhs, range: lhs.pageRange },
        { holder: rhs, range: rhs.pageRange },
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
    const filled: Area[] = [];
    const pinnedHere: Area[] = [];
    try {
      for (const e of this.areas) {
        const area = e.value;
        if (!area.pages.holds(area)) {
          area.pages.pin(area, area.pageRange, op);
          pinnedHere.push(area);
        }
        this.mapArea(domain, area, this.pinnedBacking(area));
        filled.push(area);
      }
    } catch (e) {
      for (const a of filled.reverse()) domain.unmap(a.iova, a.last);
      for (const a of pinnedHere) a.pages.unpin(a);
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
    for (const e of this.areas) {
      domain.unmap(e.value.iova, e.value.last);
      if (this.domains.length === 0) e.value.pages.unpin(e.value);
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
    for (const e of [...this.areas]) {
      for (const d of this.domains) d.unmap(e.value.iova, e.value.last);
      e.value.pages.unpin(e.value);
      this.areas.remove(e.start);
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
