/**
 * The `iopt_area`s of one IOAS, stored as columns (a `SlotTable`: why columns, slots, generations
 * and the index are explained there), with their page stores inline while they are simple.
 *
 * Terms:
 *   area     a user mapping [iova, last] → bytes [startByte, startByte + length) of a page store
 *            (`iopt_pages`, semantics.md §2.5). A slot of the table; `Area` is a short-lived handle.
 *   inline   the area's page store lives in its own row: the store a MAP made for exactly this area
 *            (pages [uptr, uptr + npages·PAGE_SIZE) with npages = ⌈(startByte + length) / PAGE_SIZE⌉),
 *            used by nothing else, pinned entirely in one run of one memory object or not at all.
 *            Nearly every area of a VMM is one. Row: uptr and the run's offset as two more u64
 *            columns, the pin source (ref A), the run's memory object (ref B), the store's write
 *            access and account mode in the flags: ~60 B, no object.
 *   shared   the store is an `IoptPages` object (ref A) and the area holds its pin through its
 *            `AreaHolder` (ref B). A row becomes shared when its store must be seen as an object —
 *            COPY or access pins of its range, a split, a pin that resolved to several runs — and
 *            never goes back (a real `iopt_pages` stays shared too). Sharing changes no pin, charge
 *            or translation: it is invisible to everything but the heap.
 */

import type { MemoryObject } from "../../process/memory.js";
import type { BackingSegment, Translation, TranslationRecord } from "../domain.js";
import { RowHandle, SlotTable } from "../slot-table.js";
import type { IovaRange } from "../ranges.js";
import { PAGE_SIZE, isU64 } from "../u64.js";
import {
  ACCOUNT_MODES,
  BackingRun,
  IoptPages,
  pinUserPages,
  unpinUserPages,
  type AccountMode,
  type PinSource,
  type PinTarget,
} from "./pages.js";

/**
 * An area's identity as a holder of a shared store's pin, and its count of access pins
 * (`area->num_accesses`: unmap notifies, splitting refuses). Made when the row becomes shared;
 * access pins refer to it, never to a slot.
 */
export class AreaHolder {
  accesses = 0;
}

const AREA_READ = 1;
const AREA_WRITE = 2;
/** Pinned in one run when last mapped into domains: the area is its own translation (mirrored). */
const AREA_ONE_RUN = 4;
/** The store is in the row (refs: pin source, run object); else an `IoptPages` and an `AreaHolder`. */
const AREA_INLINE = 8;
/** Inline store pinned (every page, one run in ref B from RUN_OFFSET). */
const AREA_PINNED = 16;
/** Inline store made by a WRITEABLE MAP. */
const AREA_PAGES_WRITABLE = 32;
/** Inline store's account mode (an index of ACCOUNT_MODES) in the top two bits. */
const AREA_ACCOUNT_SHIFT = 6;
const INLINE_BITS = AREA_INLINE | AREA_PINNED | AREA_PAGES_WRITABLE | (3 << AREA_ACCOUNT_SHIFT);

/** The u64 columns besides the IOVA and the length. */
const START_BYTE = 2;
const UPTR = 3;
const RUN_OFFSET = 4;

/** The references of a row: inline (pin source, run object or null) or shared (store, holder). */
type RefA = PinSource | IoptPages;
type RefB = MemoryObject | null | AreaHolder;

/** One row as the state codec saves it (in IOVA order; slots are renumbered on load). */
type PackedArea = [
  iova: bigint,
  length: bigint,
  startByte: bigint,
  flags: number,
  a: RefA,
  b: RefB,
  uptr: bigint,
  runOffset: bigint,
];

export class AreaTable extends SlotTable<RefA, RefB> {
  constructor() {
    super(5, "iopt_area");
  }

  /**
   * Add an area with a new store of its own (MAP): the store is pages [uptr, …) where the area's
   * first byte is `startByte` (< PAGE_SIZE) into them. -1 when it overlaps an area.
   */
  insertInline(
    iova: bigint,
    last: bigint,
    startByte: bigint,
    store: PinTarget,
    read: boolean,
    write: boolean,
  ): number {
    if (startByte < 0n || startByte >= PAGE_SIZE || !isU64(store.uptr))
      throw new RangeError("iopt_area: bad inline store");
    const flags =
      (read ? AREA_READ : 0) |
      (write ? AREA_WRITE : 0) |
      AREA_INLINE |
      (store.writable ? AREA_PAGES_WRITABLE : 0) |
      (ACCOUNT_MODES.indexOf(store.accountMode) << AREA_ACCOUNT_SHIFT);
    const slot = this.place(iova, last, flags);
    if (slot < 0) return -1;
    this.setWord(slot, START_BYTE, startByte);
    this.setWord(slot, UPTR, store.uptr);
    this.setWord(slot, RUN_OFFSET, 0n);
    this.setRefA(slot, store.source);
    return slot;
  }

  /** Add an area over bytes from `startByte` of an existing store (COPY, split). -1 on overlap. */
  insertShared(
    iova: bigint,
    last: bigint,
    pages: IoptPages,
    startByte: bigint,
    read: boolean,
    write: boolean,
  ): number {
    if (!isU64(startByte)) throw new RangeError("iopt_area: start byte outside u64");
    const slot = this.place(iova, last, (read ? AREA_READ : 0) | (write ? AREA_WRITE : 0));
    if (slot < 0) return -1;
    this.setWord(slot, START_BYTE, startByte);
    this.setWord(slot, UPTR, 0n);
    this.setWord(slot, RUN_OFFSET, 0n);
    this.setRefA(slot, pages);
    this.setRefB(slot, new AreaHolder());
    return slot;
  }

  /** Remove the area in `slot` (its handles go stale). Its pin must have been dropped. */
  remove(slot: number): void {
    this.free(slot);
  }

  at(slot: number): Area {
    return new Area(this, slot, this.generation(slot));
  }

  // ---- columns

  startByteAt(slot: number): bigint {
    return this.word(slot, START_BYTE);
  }

  readAt(slot: number): boolean {
    return (this.flagsAt(slot) & AREA_READ) !== 0;
  }

  writeAt(slot: number): boolean {
    return (this.flagsAt(slot) & AREA_WRITE) !== 0;
  }

  private isInline(slot: number): boolean {
    return (this.flagsAt(slot) & AREA_INLINE) !== 0;
  }

  oneRunAt(slot: number): boolean {
    return (this.flagsAt(slot) & AREA_ONE_RUN) !== 0;
  }

  setOneRun(slot: number, v: boolean): void {
    const f = this.flagsAt(slot);
    this.setFlags(slot, v ? f | AREA_ONE_RUN : f & ~AREA_ONE_RUN);
  }

  /** Access pins inside the area (0 for an inline row: access pins make a row shared first). */
  accessesAt(slot: number): number {
    return this.isInline(slot) ? 0 : (this.refB(slot) as AreaHolder).accesses;
  }

  /** The store of a shared row, null for an inline one (nothing changes). */
  sharedPagesAt(slot: number): IoptPages | null {
    return this.isInline(slot) ? null : (this.refA(slot) as IoptPages);
  }

  /** The pages of an inline row: ⌈(startByte + length) / PAGE_SIZE⌉. */
  private inlinePages(slot: number): bigint {
    return (this.startByteAt(slot) + this.lengthAt(slot) + PAGE_SIZE - 1n) / PAGE_SIZE;
  }

  private inlineWritable(slot: number): boolean {
    return (this.flagsAt(slot) & AREA_PAGES_WRITABLE) !== 0;
  }

  private inlineAccountMode(slot: number): AccountMode {
    return ACCOUNT_MODES[this.flagsAt(slot) >>> AREA_ACCOUNT_SHIFT]!;
  }

  // ---- the area's store

  /**
   * The area's store as an object (COPY, access pins, splits): an inline row becomes shared here,
   * keeping its pin, charge and run.
   */
  pagesOf(slot: number): IoptPages {
    const shared = this.sharedPagesAt(slot);
    if (shared !== null) return shared;
    const npages = this.inlinePages(slot);
    const pages = new IoptPages(
      this.word(slot, UPTR),
      npages,
      this.inlineWritable(slot),
      this.inlineAccountMode(slot),
      this.refA(slot) as PinSource,
    );
    const holder = new AreaHolder();
    if (this.holdsPin(slot)) {
      const run = new BackingRun(
        0n,
        npages * PAGE_SIZE - 1n,
        this.refB(slot) as MemoryObject,
        this.word(slot, RUN_OFFSET),
      );
      pages.adoptPin(holder, { start: 0n, last: npages - 1n }, [run]);
    }
    this.setFlags(slot, this.flagsAt(slot) & ~INLINE_BITS);
    this.setWord(slot, UPTR, 0n);
    this.setWord(slot, RUN_OFFSET, 0n);
    this.setRefA(slot, pages);
    this.setRefB(slot, holder);
    return pages;
  }

  /** The area as a holder of its shared store (the row becomes shared if it was not). */
  holderOf(slot: number): AreaHolder {
    this.pagesOf(slot);
    return this.refB(slot) as AreaHolder;
  }

  /** Page indexes of the store the area covers. */
  pageRangeAt(slot: number): IovaRange {
    return IoptPages.pageRange(this.startByteAt(slot), this.lengthAt(slot));
  }

  /** Page indexes pinned in the area's store (by anyone), normalised. */
  storePinnedAt(slot: number): readonly IovaRange[] {
    const shared = this.sharedPagesAt(slot);
    if (shared !== null) return shared.pinned;
    return this.holdsPin(slot) ? [{ start: 0n, last: this.inlinePages(slot) - 1n }] : [];
  }

  /** The area holds its store's pin (it is mapped into the IOAS's domains). */
  holdsPin(slot: number): boolean {
    if (this.isInline(slot)) return (this.flagsAt(slot) & AREA_PINNED) !== 0;
    return (this.refA(slot) as IoptPages).holds(this.refB(slot) as AreaHolder);
  }

  /**
   * Pin the area's pages (EFAULT, ENOMEM; nothing changes on failure). An inline store whose pages
   * resolve to several runs becomes shared (its runs then need an `IoptPages`).
   */
  pin(slot: number, op: string): void {
    if (this.holdsPin(slot)) return;
    if (!this.isInline(slot)) {
      (this.refA(slot) as IoptPages).pin(this.refB(slot) as AreaHolder, this.pageRangeAt(slot), op);
      return;
    }
    const npages = this.inlinePages(slot);
    const uptr = this.word(slot, UPTR);
    const backing = pinUserPages(
      this.refA(slot) as PinSource,
      uptr,
      this.inlineWritable(slot),
      this.inlineAccountMode(slot),
      npages,
      op,
    );
    if (!Array.isArray(backing)) {
      // One VMA holds every page: the row keeps its object and the offset of the store's first byte.
      this.setRefB(slot, backing.object);
      this.setWord(slot, RUN_OFFSET, backing.objectOffset + (uptr - backing.start));
      this.setFlags(slot, this.flagsAt(slot) | AREA_PINNED);
      return;
    }
    // Runs over several VMAs need an `IoptPages`.
    this.pagesOf(slot).adoptPin(this.refB(slot) as AreaHolder, { start: 0n, last: npages - 1n }, backing);
  }

  /** Drop the area's pin (pages nobody else holds are unpinned and uncharged). Never fails. */
  unpin(slot: number): void {
    if (!this.isInline(slot)) {
      (this.refA(slot) as IoptPages).unpin(this.refB(slot) as AreaHolder);
      return;
    }
    if ((this.flagsAt(slot) & AREA_PINNED) === 0) return;
    unpinUserPages(this.refA(slot) as PinSource, this.inlineAccountMode(slot), this.inlinePages(slot));
    this.setRefB(slot, null);
    this.setWord(slot, RUN_OFFSET, 0n);
    this.setFlags(slot, this.flagsAt(slot) & ~AREA_PINNED);
  }

  /** A pinned area's bytes are one run of one memory object. */
  backedByOneRun(slot: number): boolean {
    if (this.isInline(slot)) return true;
    const startByte = this.startByteAt(slot);
    const pages = this.refA(slot) as IoptPages;
    return pages.backingAt(startByte).last >= startByte + this.lengthAt(slot) - 1n;
  }

  /** A pinned area's backing, in IOVA order. */
  segmentsAt(slot: number): BackingSegment[] {
    const startByte = this.startByteAt(slot);
    const length = this.lengthAt(slot);
    if (!this.isInline(slot)) return (this.refA(slot) as IoptPages).segments(startByte, length);
    return [{ object: this.objectAt(slot), objectOffset: this.objectOffsetAt(slot), length }];
  }

  /** Memory object of a pinned one-run area. */
  objectAt(slot: number): MemoryObject {
    if (!this.isInline(slot)) return (this.refA(slot) as IoptPages).backingAt(this.startByteAt(slot)).object;
    const o = this.refB(slot);
    if ((this.flagsAt(slot) & AREA_PINNED) === 0 || o === null)
      throw new Error("iopt_area: translation read while not pinned (engine bug)");
    return o as MemoryObject;
  }

  /** Offset in `objectAt` of the area's first byte. */
  objectOffsetAt(slot: number): bigint {
    const startByte = this.startByteAt(slot);
    if (this.isInline(slot)) return this.word(slot, RUN_OFFSET) + startByte;
    const r = (this.refA(slot) as IoptPages).backingAt(startByte);
    return r.objectOffset + (startByte - r.start);
  }

  /**
   * Mapped into the IOAS's domains as itself: pinned in one run (`TableMirror`; `iopt_fill_domains`
   * and `iopt_fill_domain` are all or nothing, so such an area is in every domain of the IOAS).
   */
  shownAt(slot: number): boolean {
    return this.oneRunAt(slot) && this.holdsPin(slot);
  }

  owns(record: TranslationRecord): boolean {
    // Only this IOAS's areas are ever mapped into its domains.
    return record instanceof Area && record.table === this && record.oneRun;
  }

  // ---- saved states

  /** The live areas in IOVA order, for the state codec (which saves this instead of the columns). */
  pack(): PackedArea[] {
    return this.slots().map((s) => [
      this.iovaAt(s),
      this.lengthAt(s),
      this.startByteAt(s),
      this.flagsAt(s),
      this.refA(s),
      this.refB(s),
      this.word(s, UPTR),
      this.word(s, RUN_OFFSET),
    ]);
  }

  /** Refill an empty table from `pack()`'s rows; throws TypeError/RangeError on a malformed row. */
  unpack(rows: unknown): void {
    if (this.size !== 0) throw new Error("iopt_area table: unpack into a non-empty table");
    if (!Array.isArray(rows)) throw new TypeError("expected an array of areas");
    rows.forEach((row: unknown, i) => {
      if (!Array.isArray(row) || row.length !== 8) throw new TypeError(`area ${i}: expected 8 values`);
      const [iova, length, startByte, flags, a, b, uptr, runOffset] = row as unknown[];
      for (const v of [iova, length, startByte, uptr, runOffset])
        if (typeof v !== "bigint" || !isU64(v)) throw new RangeError(`area ${i}: a column outside u64`);
      if (typeof flags !== "number" || !Number.isInteger(flags) || flags < 0 || flags > 0xff)
        throw new TypeError(`area ${i}: bad flags`);
      const inline = (flags & AREA_INLINE) !== 0;
      if (inline) {
        if (typeof a !== "object" || a === null || a instanceof IoptPages)
          throw new TypeError(`area ${i}: an inline row needs its pin source`);
        if ((b === null) !== ((flags & AREA_PINNED) === 0) || b instanceof AreaHolder)
          throw new TypeError(`area ${i}: an inline row's run does not match its pinned flag`);
        if ((startByte as bigint) >= PAGE_SIZE) throw new RangeError(`area ${i}: start byte past a page`);
      } else if (!(a instanceof IoptPages) || !(b instanceof AreaHolder) || (flags & INLINE_BITS) !== 0)
        throw new TypeError(`area ${i}: a shared row needs its store and holder`);
      if ((length as bigint) === 0n) throw new RangeError(`area ${i}: length 0`);
      const first = iova as bigint;
      const slot = this.place(first, first + (length as bigint) - 1n, flags);
      if (slot < 0) throw new RangeError(`area ${i}: overlaps another`);
      this.setWord(slot, START_BYTE, startByte as bigint);
      this.setWord(slot, UPTR, uptr as bigint);
      this.setWord(slot, RUN_OFFSET, runOffset as bigint);
      this.setRefA(slot, a as RefA);
      this.setRefB(slot, b as RefB);
    });
  }
}

/**
 * One `iopt_area`, seen through its table slot. Short-lived: taken for one operation, never kept
 * across an unmap (then any access throws). A one-run area is its own translation in the IOAS's
 * domains (`object`/`objectOffset`/`read`/`write`).
 */
export class Area extends RowHandle<AreaTable> implements TranslationRecord {
  get value(): Translation {
    return this;
  }

  /** Offset of `iova` inside the store (bytes from its uptr). */
  get startByte(): bigint {
    return this.table.startByteAt(this.row);
  }

  get read(): boolean {
    return this.table.readAt(this.row);
  }

  get write(): boolean {
    return this.table.writeAt(this.row);
  }

  get oneRun(): boolean {
    return this.table.oneRunAt(this.row);
  }

  get numAccesses(): number {
    return this.table.accessesAt(this.row);
  }

  /** The store when it is shared (an `IoptPages`), null while it is the row's own. */
  get sharedPages(): IoptPages | null {
    return this.table.sharedPagesAt(this.row);
  }

  /** Page indexes pinned in the area's store (by anyone). */
  get storePinned(): readonly IovaRange[] {
    return this.table.storePinnedAt(this.row);
  }

  get object(): MemoryObject {
    return this.table.objectAt(this.row);
  }

  get objectOffset(): bigint {
    return this.table.objectOffsetAt(this.row);
  }
}
