/**
 * The `vfio_dma` records of one type1 context, stored as columns (a `SlotTable`: why columns, slots,
 * generations and the index are explained there).
 *
 * A dma is a slot with four u64 columns (IOVA, size, vaddr, pin offset), a flags byte, its task and
 * its pinned backing: ~52 B plus the index's ~25 B, no object per mapping. Code that wants an object
 * takes a `VfioDma`, a short-lived handle of one slot.
 */

import type { LockedAccount } from "../accounting.js";
import type { BackingSegment, Translation, TranslationRecord } from "../domain.js";
import { RowHandle, SlotTable } from "../slot-table.js";
import { MemoryObject, type AddressSpace } from "../../process/memory.js";
import { PAGE_SIZE, isU64, smallBigint } from "../u64.js";

/** The task mapping memory: a Process satisfies this structurally. */
export interface DmaTask {
  readonly memory: AddressSpace;
  readonly mm: LockedAccount;
  readonly credentials: { readonly capIpcLock: boolean };
  /** RLIMIT_MEMLOCK in bytes. */
  readonly rlimitMemlock: bigint;
}

/** Pinned backing of a dma: one run (the object, at the pin offset, for the whole size) or several. */
export type DmaPin = MemoryObject | BackingSegment[] | null;

export const DMA_READ = 1;
export const DMA_WRITE = 2;
/** VFIO_DMA_UNMAP_FLAG_VADDR was applied: the vaddr is stale until a MAP with FLAG_VADDR. */
export const DMA_VADDR_INVALID = 4;
/** The charged task's CAP_IPC_LOCK (no RLIMIT_MEMLOCK check while it holds). */
export const DMA_LOCK_CAP = 8;

/** One row as the state codec saves it (in IOVA order; slots are renumbered on load). */
type PackedDma = [
  iova: bigint,
  size: bigint,
  vaddr: bigint,
  flags: number,
  task: DmaTask,
  pin: DmaPin,
  pinOffset: bigint,
];

/** The u64 columns besides the IOVA and the size. */
const VADDR = 2;
const PIN_OFFSET = 3;

/** The dmas: each a slot with its vaddr and pin offset, its task (ref A) and pinned backing (B). */
export class DmaTable extends SlotTable<DmaTask, DmaPin> {
  constructor() {
    super(4, "vfio_dma");
  }

  /**
   * Add a dma over [iova, last] unless it overlaps one (then -1, nothing changed); its slot
   * otherwise. Every value must be a u64 (a column would wrap anything else silently).
   */
  insert(iova: bigint, last: bigint, vaddr: bigint, flags: number, task: DmaTask): number {
    if (!isU64(vaddr)) throw new RangeError("vfio_dma: bounds outside u64");
    const slot = this.place(iova, last, flags);
    if (slot < 0) return -1;
    this.setWord(slot, VADDR, vaddr);
    this.setWord(slot, PIN_OFFSET, 0n);
    this.setRefA(slot, task);
    return slot;
  }

  /** Remove the dma in `slot` (its handles go stale). */
  remove(slot: number): void {
    this.free(slot);
  }

  at(slot: number): VfioDma {
    return new VfioDma(this, slot, this.generation(slot));
  }

  /** Pinned in one run: the domains show the dma itself (`TableMirror`). */
  shownAt(slot: number): boolean {
    return this.pinAt(slot) instanceof MemoryObject;
  }

  owns(record: TranslationRecord): boolean {
    // Only this container's dmas are ever mapped into its domains.
    return record instanceof VfioDma && record.table === this && record.pinnedInOneRun;
  }

  // ---- columns

  sizeAt(slot: number): bigint {
    return this.lengthAt(slot);
  }

  vaddrAt(slot: number): bigint {
    return this.word(slot, VADDR);
  }

  setVaddr(slot: number, vaddr: bigint): void {
    this.setWord(slot, VADDR, vaddr);
  }

  taskAt(slot: number): DmaTask {
    return this.refA(slot);
  }

  setTask(slot: number, task: DmaTask): void {
    this.setRefA(slot, task);
  }

  pinAt(slot: number): DmaPin {
    return this.refB(slot);
  }

  pinOffsetAt(slot: number): bigint {
    return this.word(slot, PIN_OFFSET);
  }

  setPin(slot: number, pin: DmaPin, offset: bigint): void {
    this.setRefB(slot, pin);
    this.setWord(slot, PIN_OFFSET, offset);
  }

  // ---- saved states

  /** The live dmas in IOVA order, for the state codec (which saves this instead of the columns). */
  pack(): PackedDma[] {
    return this.slots().map((s) => [
      this.iovaAt(s),
      this.sizeAt(s),
      this.vaddrAt(s),
      this.flagsAt(s),
      this.taskAt(s),
      this.pinAt(s),
      this.pinOffsetAt(s),
    ]);
  }

  /** Refill an empty table from `pack()`'s rows; throws TypeError/RangeError on a malformed row. */
  unpack(rows: unknown): void {
    if (this.size !== 0) throw new Error("vfio_dma table: unpack into a non-empty table");
    if (!Array.isArray(rows)) throw new TypeError("expected an array of dmas");
    rows.forEach((row: unknown, i) => {
      if (!Array.isArray(row) || row.length !== 7) throw new TypeError(`dma ${i}: expected 7 values`);
      const [iova, size, vaddr, flags, task, pin, pinOffset] = row as unknown[];
      if (typeof iova !== "bigint" || typeof size !== "bigint" || typeof vaddr !== "bigint")
        throw new TypeError(`dma ${i}: iova, size and vaddr must be bigints`);
      if (typeof pinOffset !== "bigint" || !isU64(pinOffset))
        throw new RangeError(`dma ${i}: pin offset outside u64`);
      if (typeof flags !== "number" || !Number.isInteger(flags) || flags < 0 || flags > 0xff)
        throw new TypeError(`dma ${i}: bad flags`);
      if (typeof task !== "object" || task === null) throw new TypeError(`dma ${i}: no task`);
      if (!(pin === null || pin instanceof MemoryObject || Array.isArray(pin)))
        throw new TypeError(`dma ${i}: bad pin`);
      if (size <= 0n) throw new RangeError(`dma ${i}: size 0`);
      const slot = this.insert(iova, iova + size - 1n, vaddr, flags, task as DmaTask);
      if (slot < 0) throw new RangeError(`dma ${i}: overlaps another`);
      this.setPin(slot, pin as DmaPin, pinOffset);
    });
  }
}

/**
 * One `vfio_dma`, seen through its table slot. Short-lived: taken for one operation, never kept
 * across an UNMAP (then any access throws). A dma pinned in one run is its own translation in the
 * context's domains (`object`/`objectOffset`/`read`/`write`).
 */
export class VfioDma extends RowHandle<DmaTable> implements TranslationRecord {
  get size(): bigint {
    return this.length;
  }

  get value(): Translation {
    return this;
  }

  get vaddr(): bigint {
    return this.table.vaddrAt(this.row);
  }

  set vaddr(v: bigint) {
    this.table.setVaddr(this.row, v);
  }

  get task(): DmaTask {
    return this.table.taskAt(this.row);
  }

  set task(t: DmaTask) {
    this.table.setTask(this.row, t);
  }

  private flag(bit: number): boolean {
    return (this.table.flagsAt(this.row) & bit) !== 0;
  }

  private setFlag(bit: number, on: boolean): void {
    const f = this.table.flagsAt(this.row);
    this.table.setFlags(this.slot, on ? f | bit : f & ~bit);
  }

  get read(): boolean {
    return this.flag(DMA_READ);
  }

  get write(): boolean {
    return this.flag(DMA_WRITE);
  }

  get vaddrInvalid(): boolean {
    return this.flag(DMA_VADDR_INVALID);
  }

  set vaddrInvalid(v: boolean) {
    this.setFlag(DMA_VADDR_INVALID, v);
  }

  get lockCap(): boolean {
    return this.flag(DMA_LOCK_CAP);
  }

  set lockCap(v: boolean) {
    this.setFlag(DMA_LOCK_CAP, v);
  }

  /**
   * Pages charged to `task.mm` (`dma->locked_vm`): every page of the dma while it is pinned, none
   * otherwise (pinning charges each run's pages; runs are whole pages and cover the dma).
   */
  get lockedPages(): bigint {
    return this.table.pinAt(this.row) === null ? 0n : smallBigint(this.size / PAGE_SIZE);
  }

  /** Pinned backing, in IOVA order (null = not pinned: no domain). */
  get segments(): BackingSegment[] | null {
    const pin = this.table.pinAt(this.row);
    if (pin instanceof MemoryObject)
      return [{ object: pin, objectOffset: this.table.pinOffsetAt(this.slot), length: this.size }];
    return pin;
  }

  set segments(v: BackingSegment[] | null) {
    const slot = this.row;
    if (v !== null && v.length === 1 && v[0]!.length === this.table.sizeAt(slot))
      this.table.setPin(slot, v[0]!.object, v[0]!.objectOffset);
    else this.table.setPin(slot, v, 0n);
  }

  /** Translation of a one-run pin: the memory object (only read while mapped into a domain). */
  get object(): MemoryObject {
    const pin = this.table.pinAt(this.row);
    if (!(pin instanceof MemoryObject))
      throw new Error("vfio_dma: translation read while not pinned in one run");
    return pin;
  }

  /** Offset in `object` of the dma's first byte. */
  get objectOffset(): bigint {
    return this.table.pinOffsetAt(this.row);
  }

  /** Pinned in one run: a domain can show the dma itself as its translation. */
  get pinnedInOneRun(): boolean {
    return this.table.pinAt(this.row) instanceof MemoryObject;
  }

  /** Pinned and mapped into the domains (`dma->iommu_mapped`). */
  get iommuMapped(): boolean {
    return this.table.pinAt(this.row) !== null;
  }
}
