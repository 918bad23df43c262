/**
 * The `vfio_dma` records of one type1 context, stored as columns (struct of arrays).
 *
 * Terms:
 * - slot: a row of the columns. A dma keeps its slot from MAP to UNMAP; a freed slot is reused by a
 *   later MAP. Each slot has a generation (24 bits, beside the flags byte), bumped when it is freed,
 *   so a `VfioDma` handle that outlived its dma fails loudly instead of reading its successor (unless
 *   the slot was reused exactly 2^24 times meanwhile).
 * - index: the slots ordered by IOVA (an `ExtentIndex` of slot numbers; the exact bounds are the
 *   columns, read only to break a tie of doubles above 2^53).
 * - handle: a `VfioDma`, a short-lived view of one slot for the code that wants an object.
 *
 * Why columns: a dma as an object costs ~80 B plus 24 B per u64 field held as a BigInt (Node's V8
 * has no pointer compression), and at 10^6 live mappings their allocation and young-generation
 * copying were a fifth of the CPU of a MAP/UNMAP pair. Here a dma is 4 u64 columns (8 B each,
 * exact), a 32-bit flags + generation word, and two references (its task and its pinned backing):
 * ~52 B plus the index's ~25 B, with no object per mapping and nothing for the garbage collector to
 * trace but the reference array. A context's first MAP makes the first chunk for one slot (V8
 * keeps typed arrays of ≤ 64 B inside its heap, far cheaper than a buffer of their own), which then
 * doubles up to CHUNK (a power of two).
 */

import type { LockedAccount } from "../accounting.js";
import type { BackingSegment, Translation, TranslationRecord } from "../domain.js";
import { ExtentIndex } from "../extent-index.js";
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

/** The index of slots by IOVA: exact bounds come from the table's columns. */
class SlotIndex extends ExtentIndex<number> {
  constructor(private readonly table: DmaTable) {
    super();
  }

  protected startOf(slot: number): bigint {
    return this.table.iovaAt(slot);
  }

  protected lastOf(slot: number): bigint {
    return this.table.lastAt(slot);
  }

  add(slot: number, start: bigint, last: bigint): boolean {
    return this.placeEntry(slot, start, last);
  }
}

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

/** Slots per chunk of the columns (2^12): past one chunk the table grows by adding chunks. */
const CHUNK_SHIFT = 12;
const CHUNK = 1 << CHUNK_SHIFT;
const IN_CHUNK = CHUNK - 1;
/** The u64 columns, interleaved in a chunk (4 per slot). */
const IOVA = 0;
const SIZE = 1;
const VADDR = 2;
const PIN_OFFSET = 3;
const U64_FIELDS = 4;
const FLAGS_MASK = 0xff;
const GENERATION_SHIFT = 8;
const GENERATION_ONE = 1 << GENERATION_SHIFT;

export class DmaTable {
  /**
   * The columns in chunks of CHUNK slots: the first grows by doubling from 1 to CHUNK, later ones
   * are made full. Never one array for all slots: growing that copies every column (5× its size
   * in all at 10^6 slots) through fresh large buffers, which cost more than the chunk lookup.
   */
  private u64s: BigUint64Array[] = [];
  /** Per slot: the flags in the low byte, the generation above them. */
  private metas: Uint32Array[] = [];
  /** Slots the chunks hold (0 until the first MAP: a context that never maps costs no columns). */
  private capacity = 0;
  /**
   * The references of slot s at 2s (its task) and 2s + 1 (its pinned backing): side by side, one
   * cache line for both (a dma's MAP and UNMAP read them together).
   */
  private refs: (DmaTask | DmaPin)[] = [];
  /** Slots freed by UNMAP, reused first. */
  private freeSlots: number[] = [];
  /** Slots ever used (the next fresh slot). */
  private used = 0;
  private index = new SlotIndex(this);

  get size(): number {
    return this.index.size;
  }

  /**
   * Add a dma over [iova, last] unless it overlaps one (then -1, nothing changed); its slot
   * otherwise. Every value must be a u64 (a column would wrap anything else silently).
   */
  insert(iova: bigint, last: bigint, vaddr: bigint, flags: number, task: DmaTask): number {
    if (!isU64(iova) || !isU64(last) || iova > last || !isU64(vaddr))
      throw new RangeError("vfio_dma: bounds outside u64");
    const fresh = this.freeSlots.length === 0;
    const slot = fresh ? this.used : this.freeSlots.pop()!;
    if (fresh && slot === this.capacity) this.grow();
    const u64 = this.u64s[slot >>> CHUNK_SHIFT]!;
    const at = (slot & IN_CHUNK) * U64_FIELDS;
    u64[at + IOVA] = iova;
    u64[at + SIZE] = last - iova + 1n;
    u64[at + VADDR] = vaddr;
    u64[at + PIN_OFFSET] = 0n;
    this.setFlags(slot, flags);
    if (!this.index.add(slot, iova, last)) {
      if (!fresh) this.freeSlots.push(slot);
      return -1;
    }
    if (fresh) {
      this.used++;
      // Array literals for the first row: a pushed-to empty array reserves 17 slots.
      if (slot === 0) {
        this.refs = [task, null];
      } else {
        this.refs.push(task, null);
      }
    } else {
      this.refs[2 * slot] = task;
    }
    return slot;
  }

  /** Remove the dma in `slot` (its handles go stale). */
  remove(slot: number): void {
    if (!this.index.removeEntry(slot)) throw new Error("vfio_dma: slot not in the table (engine bug)");
    this.refs[2 * slot] = null;
    this.refs[2 * slot + 1] = null;
    const metas = this.metas[slot >>> CHUNK_SHIFT]!;
    metas[slot & IN_CHUNK] = (metas[slot & IN_CHUNK]! + GENERATION_ONE) >>> 0;
    this.freeSlots.push(slot);
  }

  /**
   * Room for one more slot: the first chunk is made at the first MAP and doubles up to CHUNK slots,
   * then a chunk is added.
   */
  private grow(): void {
    if (this.capacity >= CHUNK) {
      this.u64s.push(new BigUint64Array(CHUNK * U64_FIELDS));
      this.metas.push(new Uint32Array(CHUNK));
      this.capacity += CHUNK;
      return;
    }
    const cap = this.capacity === 0 ? 1 : this.capacity * 2;
    const u64 = new BigUint64Array(cap * U64_FIELDS);
    const metas = new Uint32Array(cap);
    if (this.capacity === 0) {
      this.u64s = [u64];
      this.metas = [metas];
    } else {
      u64.set(this.u64s[0]!);
      metas.set(this.metas[0]!);
      this.u64s[0] = u64;
      this.metas[0] = metas;
    }
    this.capacity = cap;
  }

  private u64(slot: number, field: number): bigint {
    return this.u64s[slot >>> CHUNK_SHIFT]![(slot & IN_CHUNK) * U64_FIELDS + field]!;
  }

  // ---- lookups (slots; -1 = none)

  /** The dma containing `addr`. */
  find(addr: bigint): number {
    return this.index.find(addr) ?? -1;
  }

  /** The first dma intersecting [start, last]. */
  firstOverlapping(start: bigint, last: bigint): number {
    return this.index.firstOverlapping(start, last) ?? -1;
  }

  /** The dmas intersecting [start, last], ascending. */
  overlapping(start: bigint, last: bigint): number[] {
    return this.index.overlapping(start, last);
  }

  /** Every dma, ascending. */
  slots(): number[] {
    return this.index.values();
  }

  at(slot: number): VfioDma {
    return new VfioDma(this, slot, this.generation(slot));
  }

  // ---- columns

  iovaAt(slot: number): bigint {
    return this.u64(slot, IOVA);
  }

  sizeAt(slot: number): bigint {
    return this.u64(slot, SIZE);
  }

  lastAt(slot: number): bigint {
    const u64 = this.u64s[slot >>> CHUNK_SHIFT]!;
    const at = (slot & IN_CHUNK) * U64_FIELDS;
    return u64[at + IOVA]! + u64[at + SIZE]! - 1n;
  }

  vaddrAt(slot: number): bigint {
    return this.u64(slot, VADDR);
  }

  setVaddr(slot: number, vaddr: bigint): void {
    if (!isU64(vaddr)) throw new RangeError("vfio_dma: vaddr outside u64");
    this.u64s[slot >>> CHUNK_SHIFT]![(slot & IN_CHUNK) * U64_FIELDS + VADDR] = vaddr;
  }

  flagsAt(slot: number): number {
    return this.metas[slot >>> CHUNK_SHIFT]![slot & IN_CHUNK]! & FLAGS_MASK;
  }

  setFlags(slot: number, flags: number): void {
    if ((flags & ~FLAGS_MASK) !== 0) throw new RangeError("vfio_dma: flags beyond one byte");
    const metas = this.metas[slot >>> CHUNK_SHIFT]!;
    metas[slot & IN_CHUNK] = ((metas[slot & IN_CHUNK]! & ~FLAGS_MASK) | flags) >>> 0;
  }

  taskAt(slot: number): DmaTask {
    return this.refs[2 * slot] as DmaTask;
  }

  setTask(slot: number, task: DmaTask): void {
    this.refs[2 * slot] = task;
  }

  pinAt(slot: number): DmaPin {
    return this.refs[2 * slot + 1] as DmaPin;
  }

  pinOffsetAt(slot: number): bigint {
    return this.u64(slot, PIN_OFFSET);
  }

  setPin(slot: number, pin: DmaPin, offset: bigint): void {
    this.refs[2 * slot + 1] = pin;
    this.u64s[slot >>> CHUNK_SHIFT]![(slot & IN_CHUNK) * U64_FIELDS + PIN_OFFSET] = offset;
  }

  generation(slot: number): number {
    return this.metas[slot >>> CHUNK_SHIFT]![slot & IN_CHUNK]! >>> GENERATION_SHIFT;
  }

  // ---- saved states

  /** The live dmas in IOVA order, for the state codec (which saves this instead of the columns). */
  pack(): PackedDma[] {
    return this.slots().map((s) => [
      this.u64(s, IOVA),
      this.u64(s, SIZE),
      this.u64(s, VADDR),
      this.flagsAt(s),
      this.taskAt(s),
      this.pinAt(s),
      this.u64(s, PIN_OFFSET),
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
export class VfioDma implements TranslationRecord {
  constructor(
    readonly table: DmaTable,
    readonly slot: number,
    private readonly generation: number,
  ) {}

  /** The slot, checked to still hold this handle's dma. */
  private get row(): number {
    if (this.table.generation(this.slot) !== this.generation)
      throw new Error("vfio_dma: handle used after its mapping was removed");
    return this.slot;
  }

  get iova(): bigint {
    return this.table.iovaAt(this.row);
  }

  get size(): bigint {
    return this.table.sizeAt(this.row);
  }

  get start(): bigint {
    return this.table.iovaAt(this.row);
  }

  get last(): bigint {
    return this.table.lastAt(this.row);
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
