/**
 * Rows of mappings stored as columns (struct of arrays), ordered by IOVA: the storage of type1's
 * `DmaTable` and iommufd's `AreaTable`.
 *
 * Terms:
 * - slot: a row. A mapping keeps its slot from insertion to removal; a freed slot is reused by a
 *   later insertion. Each slot has a generation (24 bits, beside a byte of flags), bumped when it
 *   is freed, so a handle that outlived its mapping fails loudly instead of reading its successor
 *   (unless the slot was reused exactly 2^24 times meanwhile).
 * - columns: `width` u64 words per slot, interleaved; word 0 is the IOVA, word 1 the length in
 *   bytes, the others are the subclass's. Two references per slot, side by side.
 * - index: the slots ordered by IOVA (an `ExtentIndex` of slot numbers; the exact bounds are the
 *   columns, read only to break a tie of doubles above 2^53).
 *
 * Why columns: a mapping as an object costs ~80 B plus 24 B per u64 field held as a BigInt (Node's
 * V8 has no pointer compression), and at 10^6 live mappings their allocation and young-generation
 * copying were a fifth of the CPU of a MAP/UNMAP pair. A u64 in a column is 8 B, exact, and nothing
 * for the garbage collector to trace. The first insertion makes the first chunk for one slot (V8
 * keeps typed arrays of ≤ 64 B inside its heap, far cheaper than a buffer of their own), which then
 * doubles up to CHUNK slots; later chunks are made full. Never one array for all slots: growing it
 * copies every column through fresh large buffers (~0.7 s of a 10^6-mapping run).
 */

import { ExtentIndex } from "./extent-index.js";
import { isU64 } from "./u64.js";

/** Slots per chunk of the columns (2^12): past one chunk the table grows by adding chunks. */
const CHUNK_SHIFT = 12;
const CHUNK = 1 << CHUNK_SHIFT;
const IN_CHUNK = CHUNK - 1;
/** The two columns every table has. */
const COL_IOVA = 0;
const COL_LENGTH = 1;
const FLAGS_MASK = 0xff;
const GENERATION_SHIFT = 8;
const GENERATION_ONE = 1 << GENERATION_SHIFT;

/** The index of slots by IOVA: exact bounds come from the table's columns. */
class SlotIndex extends ExtentIndex<number> {
  constructor(private readonly table: SlotTable<unknown, unknown>) {
    super({ slots: true });
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

/**
 * A table of `width` u64 columns, a flags byte and two references (`A` and `B`) per slot. Lookups
 * return slots, -1 for none.
 */
export abstract class SlotTable<A, B> {
  private u64s: BigUint64Array[] = [];
  /** Per slot: the flags in the low byte, the generation above them. */
  private metas: Uint32Array[] = [];
  /** Slots the chunks hold (0 until the first insertion: an empty table costs no columns). */
  private capacity = 0;
  /** The references of slot s at 2s (A) and 2s + 1 (B): one cache line for both. */
  private refs: (A | B | null)[] = [];
  /** Freed slots, reused first. */
  private freeSlots: number[] = [];
  /** Slots ever used (the next fresh slot). */
  private used = 0;
  protected readonly index = new SlotIndex(this);

  /** `width`: u64 words per slot (≥ 2); `what`: the mapping's kernel name, for errors. */
  protected constructor(
    private readonly width: number,
    protected readonly what: string,
  ) {}

  get size(): number {
    return this.index.size;
  }

  /**
   * Claim a slot for [iova, last] with `flags` unless it overlaps a row (then -1, nothing changed).
   * The subclass fills its other columns and references afterwards (a reused slot holds stale
   * words; its references are null). IOVA and last must be u64 (a column would wrap silently).
   */
  protected place(iova: bigint, last: bigint, flags: number): number {
    if (!isU64(iova) || !isU64(last) || iova > last) throw new RangeError(`${this.what}: bounds outside u64`);
    const fresh = this.freeSlots.length === 0;
    const slot = fresh ? this.used : this.freeSlots.pop()!;
    if (fresh && slot === this.capacity) this.grow();
    const words = this.u64s[slot >>> CHUNK_SHIFT]!;
    const at = (slot & IN_CHUNK) * this.width;
    words[at + COL_IOVA] = iova;
    words[at + COL_LENGTH] = last - iova + 1n;
    this.setFlags(slot, flags);
    if (!this.index.add(slot, iova, last)) {
      if (!fresh) this.freeSlots.push(slot);
      return -1;
    }
    if (fresh) {
      this.used++;
      // An array literal for the first row: a pushed-to empty array reserves 17 slots.
      if (slot === 0) this.refs = [null, null];
      else this.refs.push(null, null);
    }
    return slot;
  }

  /** Free `slot` (its handles go stale). */
  protected free(slot: number): void {
    if (!this.index.removeEntry(slot)) throw new Error(`${this.what}: slot not in the table (engine bug)`);
    this.refs[2 * slot] = null;
    this.refs[2 * slot + 1] = null;
    const metas = this.metas[slot >>> CHUNK_SHIFT]!;
    metas[slot & IN_CHUNK] = (metas[slot & IN_CHUNK]! + GENERATION_ONE) >>> 0;
    this.freeSlots.push(slot);
  }

  private grow(): void {
    if (this.capacity >= CHUNK) {
      this.u64s.push(new BigUint64Array(CHUNK * this.width));
      this.metas.push(new Uint32Array(CHUNK));
      this.capacity += CHUNK;
      return;
    }
    const cap = this.capacity === 0 ? 1 : this.capacity * 2;
    const words = new BigUint64Array(cap * this.width);
    const metas = new Uint32Array(cap);
    if (this.capacity === 0) {
      this.u64s = [words];
      this.metas = [metas];
    } else {
      words.set(this.u64s[0]!);
      metas.set(this.metas[0]!);
      this.u64s[0] = words;
      this.metas[0] = metas;
    }
    this.capacity = cap;
  }

  protected word(slot: number, column: number): bigint {
    return this.u64s[slot >>> CHUNK_SHIFT]![(slot & IN_CHUNK) * this.width + column]!;
  }

  /** Write a u64 column other than the bounds (RangeError outside u64: a column would wrap). */
  protected setWord(slot: number, column: number, v: bigint): void {
    if (!isU64(v)) throw new RangeError(`${this.what}: value outside u64`);
    this.u64s[slot >>> CHUNK_SHIFT]![(slot & IN_CHUNK) * this.width + column] = v;
  }

  protected refA(slot: number): A {
    return this.refs[2 * slot] as A;
  }

  protected refB(slot: number): B {
    return this.refs[2 * slot + 1] as B;
  }

  protected setRefA(slot: number, v: A): void {
    this.refs[2 * slot] = v;
  }

  protected setRefB(slot: number, v: B): void {
    this.refs[2 * slot + 1] = v;
  }

  // ---- lookups (slots; -1 = none)

  /** The row containing `addr`. */
  find(addr: bigint): number {
    return this.index.find(addr) ?? -1;
  }

  /** The first row intersecting [start, last]. */
  firstOverlapping(start: bigint, last: bigint): number {
    return this.index.firstOverlapping(start, last) ?? -1;
  }

  /** The rows intersecting [start, last], ascending. */
  overlapping(start: bigint, last: bigint): number[] {
    return this.index.overlapping(start, last);
  }

  hasOverlap(start: bigint, last: bigint): boolean {
    return this.index.hasOverlap(start, last);
  }

  /** The holes of [start, last] of at least `minLength` bytes (`ExtentIndex.forEachHole`). */
  forEachHole(
    start: bigint,
    last: bigint,
    minLength: bigint,
    visit: (holeStart: bigint, holeLast: bigint) => boolean,
  ): void {
    this.index.forEachHole(start, last, minLength, visit);
  }

  /** Every row, ascending. */
  slots(): number[] {
    return this.index.values();
  }

  // ---- columns

  iovaAt(slot: number): bigint {
    return this.word(slot, COL_IOVA);
  }

  /** The length in bytes. */
  lengthAt(slot: number): bigint {
    return this.word(slot, COL_LENGTH);
  }

  lastAt(slot: number): bigint {
    const words = this.u64s[slot >>> CHUNK_SHIFT]!;
    const at = (slot & IN_CHUNK) * this.width;
    return words[at + COL_IOVA]! + words[at + COL_LENGTH]! - 1n;
  }

  flagsAt(slot: number): number {
    return this.metas[slot >>> CHUNK_SHIFT]![slot & IN_CHUNK]! & FLAGS_MASK;
  }

  setFlags(slot: number, flags: number): void {
    if ((flags & ~FLAGS_MASK) !== 0) throw new RangeError(`${this.what}: flags beyond one byte`);
    const metas = this.metas[slot >>> CHUNK_SHIFT]!;
    metas[slot & IN_CHUNK] = ((metas[slot & IN_CHUNK]! & ~FLAGS_MASK) | flags) >>> 0;
  }

  generation(slot: number): number {
    return this.metas[slot >>> CHUNK_SHIFT]![slot & IN_CHUNK]! >>> GENERATION_SHIFT;
  }

  /** The slot, checked to still hold the row a handle of `generation` was taken for. */
  checked(slot: number, generation: number): number {
    if (this.generation(slot) !== generation)
      throw new Error(`${this.what}: handle used after its mapping was removed`);
    return slot;
  }
}

/**
 * A short-lived view of one row, for code that wants an object: taken for one operation, never kept
 * across the row's removal (then any access throws, via the slot's generation).
 */
export abstract class RowHandle<T extends SlotTable<unknown, unknown>> {
  constructor(
    readonly table: T,
    readonly slot: number,
    private readonly generation: number,
  ) {}

  /** The slot, checked to still hold this handle's row. */
  protected get row(): number {
    return this.table.checked(this.slot, this.generation);
  }

  get iova(): bigint {
    return this.table.iovaAt(this.row);
  }

  /** The IOVA again, as an extent's start. */
  get start(): bigint {
    return this.table.iovaAt(this.row);
  }

  get length(): bigint {
    return this.table.lengthAt(this.row);
  }

  get last(): bigint {
    return this.table.lastAt(this.row);
  }
}
