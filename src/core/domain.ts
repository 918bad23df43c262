/**
 * A hardware IOMMU domain (an I/O page table): what a device attached to it can reach.
 *
 * Both type1 and iommufd map user memory into domains; devices DMA through them. The translation
 * table is kept as extents — IOVA range → (memory object slice, permissions) — never per page, so a
 * 1 TiB map is one extent. Dirty bits exist only for pages a device actually wrote.
 */

import { ExtentMap, type Extent } from "./extent-map.js";
import { Iotlb } from "./dma/iotlb.js";
import { fail } from "./errno.js";
import { shouldFail } from "./fault.js";
import type { IovaRange } from "./ranges.js";
import type { IommuUnit } from "./topology/types.js";
import type { MemoryObject } from "../process/memory.js";
import { PAGE_SIZE } from "./u64.js";

export interface Translation {
  readonly object: MemoryObject;
  /** Offset in `object` of the extent's first IOVA byte. */
  readonly objectOffset: bigint;
  readonly read: boolean;
  readonly write: boolean;
}

/**
 * One entry of a domain's table: the extent and its translation in one object (it is its own
 * `value`), so a mapping costs one object per domain, not an extent wrapper plus a translation.
 */
export class TranslationExtent implements Extent<Translation>, Translation {
  readonly start: bigint;
  readonly last: bigint;
  readonly object: MemoryObject;
  readonly objectOffset: bigint;
  readonly read: boolean;
  readonly write: boolean;
  constructor(
    start: bigint,
    last: bigint,
    object: MemoryObject,
    objectOffset: bigint,
    read: boolean,
    write: boolean,
  ) {
    this.start = start;
    this.last = last;
    this.object = object;
    this.objectOffset = objectOffset;
    this.read = read;
    this.write = write;
  }
  get value(): Translation {
    return this;
  }
}

/** A maximal run of a domain's page table (`IommuDomain.runs`). */
export interface TranslationRun extends Translation {
  readonly start: bigint;
  last: bigint;
}

/** A mapping record that is its own translation (`IommuDomain.mapRecord`). */
export type TranslationRecord = Extent<Translation> & Translation;

/**
 * Records a domain shows without holding them: the owner's own tree of mappings, when every one of
 * its (one-run) mappings is, by the owner's invariant, mapped into every one of its domains — type1's
 * "every pinned dma is mapped in every domain". The domain's page table is then the owner's tree plus
 * its own extents (multi-run mappings, partial-unmap pieces, the MSI doorbell), and a map or unmap of
 * a mirrored record touches no table of the domain's: one tree operation per mapping, not one per
 * domain. The owner removes a record from its tree (or stops showing it) when it unmaps it.
 */
export interface DomainMirror {
  /** The shown record containing `iova`, if any. */
  recordAt(iova: bigint): TranslationRecord | undefined;
  /** Shown records intersecting [start, last], ascending. */
  recordsIn(start: bigint, last: bigint): TranslationRecord[];
  /** Is `record` one this mirror shows (then mapping it installs nothing in the domain itself)? */
  shows(record: TranslationRecord): boolean;
  /** Number of shown records. */
  count(): number;
}

/** An owner's table of mapping rows as a `TableMirror` reads it (slots; -1 = none). */
export interface MirroredTable<R extends TranslationRecord> {
  find(iova: bigint): number;
  overlapping(start: bigint, last: bigint): number[];
  slots(): number[];
  /** The row is pinned in one run and mapped into the owner's domains. */
  shownAt(slot: number): boolean;
  /** A handle of the row: the record the domains see. */
  at(slot: number): R;
  /** `record` is a handle of one of this table's rows, pinned in one run. */
  owns(record: TranslationRecord): boolean;
}

/** A DomainMirror over an owner's table of rows: shows the rows `shownAt` accepts. */
export class TableMirror<R extends TranslationRecord> implements DomainMirror {
  constructor(private readonly table: MirroredTable<R>) {}

  recordAt(iova: bigint): R | undefined {
    const slot = this.table.find(iova);
    return slot >= 0 && this.table.shownAt(slot) ? this.table.at(slot) : undefined;
  }

  recordsIn(start: bigint, last: bigint): R[] {
    const out: R[] = [];
    for (const slot of this.table.overlapping(start, last))
      if (this.table.shownAt(slot)) out.push(this.table.at(slot));
    return out;
  }

  shows(record: TranslationRecord): boolean {
    return this.table.owns(record);
  }

  count(): number {
    let n = 0;
    for (const slot of this.table.slots()) if (this.table.shownAt(slot)) n++;
    return n;
  }
}

/** A slice of pinned memory to map at consecutive IOVAs. */
export interface BackingSegment {
  readonly object: MemoryObject;
  readonly objectOffset: bigint;
  readonly length: bigint;
}

let nextDomainId = 1;

/** After restoring a saved state: new domains get ids above `id`. */
export function reserveDomainIds(id: number): void {
  if (id >= nextDomainId) nextDomainId = id + 1;
}

export class IommuDomain {
  readonly id = nextDomainId++;
  readonly unit: IommuUnit;
  /** The domain's aperture (may be all-zero until first attach on some drivers). */
  aperture: IovaRange;
  readonly pgsizeBitmap: bigint;
  /** Blocks no-snoop: required for devices that cannot guarantee coherency. */
  readonly enforceCacheCoherency: boolean;
  dirtyTracking = false;
  private readonly table = new ExtentMap<Translation>();
  /** The owner's records this domain shows besides `table` (see DomainMirror), or null. */
  private mirror: DomainMirror | null = null;
  /** IOVA page numbers (in units of the smallest page) written by DMA while tracking was on. */
  private readonly dirty = new Set<bigint>();
  /** Translations cached by devices using this domain (see dma/iotlb.ts). */
  readonly iotlb = new Iotlb();

  constructor(unit: IommuUnit, opts: { aperture?: IovaRange; enforceCacheCoherency?: boolean } = {}) {
    this.unit = unit;
    this.aperture = opts.aperture ?? unit.aperture;
    this.pgsizeBitmap = unit.pgsizeBitmap;
    this.enforceCacheCoherency = opts.enforceCacheCoherency ?? unit.enforceCacheCoherency;
  }

  /** Smallest IOMMU page size of this domain. */
  get minPageSize(): bigint {
    return this.pgsizeBitmap & -this.pgsizeBitmap;
  }

  get mappedExtents(): number {
    return this.table.size + (this.mirror?.count() ?? 0);
  }

  /** Show the owner's records (a new, empty domain of that owner) or stop showing them (null). */
  setMirror(mirror: DomainMirror | null): void {
    this.mirror = mirror;
  }

  /**
   * iommu_map: install translations for consecutive IOVAs starting at `iova`. All or nothing.
   * `knownLast` (optional) is the caller's `iova + total length - 1`, shared instead of recomputed.
   */
  map(
    iova: bigint,
    segments: readonly BackingSegment[],
    read: boolean,
    write: boolean,
    knownLast?: bigint,
  ): void {
    if (shouldFail("domain.map")) fail("ENOMEM", "iommu_map", "injected");
    let total = 0n;
    if (segments.length === 1) total = segments[0]!.length;
    else for (const s of segments) total += s.length;
    if (total === 0n) return;
    if (this.installsNothing(read, write)) return;
    const last = knownLast ?? iova + total - 1n;
    if (segments.length === 1) {
      // One extent: insertExtent() itself checks for an overlap (one search instead of two).
      const s = segments[0]!;
      const t = new TranslationExtent(iova, last, s.object, s.objectOffset, read, write);
      if (!this.table.insertExtent(t)) fail("EADDRINUSE", "iommu_map", "IOVA already mapped");
      return;
    }
    if (this.table.hasOverlap(iova, last)) fail("EADDRINUSE", "iommu_map", "IOVA already mapped");
    let cur = iova;
    for (const s of segments) {
      if (s.length === 0n) continue;
      this.table.insertExtent(
        new TranslationExtent(cur, cur + s.length - 1n, s.object, s.objectOffset, read, write),
      );
      cur += s.length;
    }
  }

  /**
   * `map` of a mapping record that is itself a one-run translation (a type1 `vfio_dma` or an
   * iommufd area pinned in one run): the record goes into the table as it is — no translation
   * object per domain, as a hardware page table points at the pinned pages, not at a copy of the
   * mapping. Same checks and errors as `map`. The record's bounds and translation must not change
   * while it is mapped (a partial unmap leaves `TranslationExtent` pieces, never edits it).
   */
  mapRecord(record: TranslationRecord): void {
    if (shouldFail("domain.map")) fail("ENOMEM", "iommu_map", "injected");
    if (this.installsNothing(record.read, record.write)) return;
    // A mirrored record is in the page table through the owner's tree, which already keeps its
    // records apart (and out of the reserved windows where the domain's own extents live).
    if (this.mirror !== null && this.mirror.shows(record)) return;
    if (!this.table.insertExtent(record)) fail("EADDRINUSE", "iommu_map", "IOVA already mapped");
  }

  /**
   * A mapping with no access right: VT-d and AMD-Vi refuse it (EINVAL); ARM's io-pgtable accepts
   * it and installs nothing (true); virtio-iommu installs an entry that permits nothing.
   */
  private installsNothing(read: boolean, write: boolean): boolean {
    if (read || write) return false;
    if (this.unit.kind === "intel-vtd" || this.unit.kind === "amd-vi") {
      fail("EINVAL", "iommu_map", "neither read nor write permission");
    }
    return this.unit.kind === "arm-smmu-v3";
  }

  /**
   * iommu_unmap of [start, last]: removes every translation of the domain's own there (splitting
   * extents); returns those bytes. Mirrored records are the owner's to remove.
   */
  unmap(start: bigint, last: bigint): bigint {
    // The kernel flushes the IOTLB for every unmapped range before the pages are released.
    if (this.iotlb.size > 0) this.iotlb.invalidate(start / PAGE_SIZE, last / PAGE_SIZE);
    // Nothing of its own (every mapping shown through the mirror, the common case): no search.
    if (this.table.size === 0) return 0n;
    let removed = 0n;
    for (const e of this.table.removeOverlapping(start, last)) {
      const v = e.value;
      if (e.start < start) {
        this.table.insertExtent(
          new TranslationExtent(e.start, start - 1n, v.object, v.objectOffset, v.read, v.write),
        );
      }
      if (e.last > last) {
        const offset = v.objectOffset + (last + 1n - e.start);
        this.table.insertExtent(new TranslationExtent(last + 1n, e.last, v.object, offset, v.read, v.write));
      }
      const s = e.start > start ? e.start : start;
      const l = e.last < last ? e.last : last;
      removed += l - s + 1n;
    }
    return removed;
  }

  /** Translate one IOVA: the backing byte and permissions, or undefined (a DMA fault). */
  translate(
    iova: bigint,
  ): { object: MemoryObject; offset: bigint; read: boolean; write: boolean; last: bigint } | undefined {
    const e = this.table.find(iova) ?? this.mirror?.recordAt(iova);
    if (!e) return undefined;
    return {
      object: e.value.object,
      offset: e.value.objectOffset + (iova - e.start),
      read: e.value.read,
      write: e.value.write,
      last: e.last,
    };
  }

  /** Translations overlapping [start, last] (for snapshots, viewer, tests). */
  translations(start = 0n, last = (1n << 64n) - 1n): { start: bigint; last: bigint; value: Translation }[] {
    const own = this.table.overlapping(start, last);
    if (this.mirror === null) return own;
    const shown = this.mirror.recordsIn(start, last);
    if (shown.length === 0) return own;
    // Both ascending and disjoint: merge.
    const out: { start: bigint; last: bigint; value: Translation }[] = [];
    let i = 0;
    let j = 0;
    while (i < own.length || j < shown.length) {
      if (j >= shown.length || (i < own.length && own[i]!.start < shown[j]!.start)) out.push(own[i++]!);
      else out.push(shown[j++]!);
    }
    return out;
  }

  /**
   * The page table's contents as maximal runs: adjacent translations of consecutive bytes of one
   * object with the same permissions are one run. Independent of how records happen to be split
   * (an iommufd area cut changes no IOPTE), so snapshots compare what a device could reach.
   */
  runs(): TranslationRun[] {
    const out: TranslationRun[] = [];
    for (const t of this.translations()) {
      const v = t.value;
      const prev = out.at(-1);
      if (
        prev !== undefined &&
        prev.last + 1n === t.start &&
        prev.object === v.object &&
        prev.objectOffset + (t.start - prev.start) === v.objectOffset &&
        prev.read === v.read &&
        prev.write === v.write
      )
        prev.last = t.last;
      else
        out.push({
          start: t.start,
          last: t.last,
          object: v.object,
          objectOffset: v.objectOffset,
          read: v.read,
          write: v.write,
        });
    }
    return out;
  }

  markDirty(iova: bigint): void {
    if (this.dirtyTracking) this.dirty.add(iova / PAGE_SIZE);
  }

  /** Dirty CPU-page numbers in [start, last]; cleared unless `noClear`. */
  readAndClearDirty(start: bigint, last: bigint, noClear = false): bigint[] {
    const out: bigint[] = [];
    const first = start / PAGE_SIZE;
    const lastPage = last / PAGE_SIZE;
    for (const p of this.dirty) {
      if (p >= first && p <= lastPage) out.push(p);
    }
    if (!noClear) for (const p of out) this.dirty.delete(p);
    return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  clearDirty(): void {
    this.dirty.clear();
  }
}
