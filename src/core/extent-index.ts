/**
 * Ordered index of non-overlapping extents [start, last] (inclusive), keyed by start — the one
 * interval structure of the engine, over entries of any kind: `ExtentMap` holds extent objects (the
 * iommufd allowed/reserved trees, every domain's translation table, a page store's runs), the
 * `SlotTable`s (type1's dmas, iommufd's areas) hold slot numbers of their columns. A subclass says
 * where an entry's exact bounds are (`startOf`/`lastOf`).
 *
 * Structure: a two-level sorted array (a "chunked list", B+tree of height 2). Entries live in leaves
 * of at most `leafSize` (256); a leaf is a fixed slab of a pool, not an object: its approximate
 * bounds (`Number(start)`, `Number(last)`, interleaved) at `2·(base + i)` of a Float64Array chunk and
 * its entries at `base + i` of an array chunk, with `base = (id mod 64)·leafSize` in chunk
 * `id / 64`. A leaf's count and largest gap are typed-array cells by id; the leaves in key order are
 * an array of ids beside an array of their first keys. A search is a binary search over the first
 * keys, then one inside the leaf's slab, on plain doubles — no BigInt arithmetic and no object
 * between the top arrays and the slab (a leaf as an object with its own arrays cost four dependent
 * cache misses before its first key: at 10^6 entries that was most of a lookup). Doubles round
 * above 2^53, but rounding is monotonic, so order by double is consistent with order by bigint and
 * only equal doubles need the exact compare (tie-break); the entry's exact bounds are read only then.
 *
 * Costs: find O(log n); insert/remove O(log n) search plus a move of at most a leaf (a split or an
 * emptied leaf moves O(n / 256) ids). Memory: ~24 B of slab per entry slot (20 B for slot numbers,
 * kept in Int32Arrays), leaves ~70 % full under random inserts (~35 B / ~28 B per entry). An index of one extent holds it in a field (`solo`) and has no
 * slab; one leaf's slab starts at 4 entries and grows by a quarter, so small indexes (one per page
 * store, per domain) stay small; past one leaf, slabs are whole and chunks hold 64 of them (the
 * first chunk doubles up to that). Searches leave a cursor in two fields instead of returning
 * position objects: no allocation on the map/unmap path. Why not a balanced tree: a pointer tree
 * costs a node object per entry (~100 B in V8) and chases pointers; sorted doubles in 256-entry
 * slabs are cache-friendly and the memmove on insert is short.
 */

const DEFAULT_LEAF_SIZE = 256;
/** Leaves per chunk of the pools (2^6). */
const CHUNK_SHIFT = 6;
const IN_CHUNK = (1 << CHUNK_SHIFT) - 1;
/** First slab capacity (entries) of the one leaf of a small index. */
const INITIAL_SLAB = 4;

/**
 * Margin for a gap computed in doubles near `x`: none below 2^53 (integers there are exact, and so
 * is their difference); above, a few units in the last place (each rounding is at most half one).
 */
function slackAt(x: number): number {
  return x < 2 ** 53 ? 0 : x * 2 ** -50;
}

const NO_BOUNDS = new Float64Array(0);
const NO_IDS = new Int32Array(0);

export abstract class ExtentIndex<E> {
  /** The exact bounds of an entry (read only on a double tie above 2^53 and by range walks). */
  protected abstract startOf(e: E): bigint;
  protected abstract lastOf(e: E): bigint;

  /** Entries per leaf before it splits (small values only make sense in tests). */
  private readonly leafSize: number;
  private count = 0;
  /**
   * An index of exactly one extent keeps it here and has no leaf (most maps of the engine hold one
   * extent, or none). Any search that needs the leaves builds them first (`unsolo`).
   */
  private solo: E | null = null;

  // ---- the pools, by leaf id
  private boundsChunks: Float64Array[] = [];
  /** Entries by slab cell: JS arrays, or Int32Arrays for an index of slot numbers (`slots`). */
  private itemChunks: E[][] = [];
  /** Leaf ids the chunks hold (0: no leaf yet; 1: one leaf whose slab may be short). */
  private idCapacity = 0;
  /** Entries the slab of leaf 0 holds while it is the only leaf id (`idCapacity` 1). */
  private smallSlab = 0;
  private counts = NO_IDS;
  /** Largest gap between consecutive entries of a leaf (doubles), NaN when stale. */
  private gaps = NO_BOUNDS;
  private freeIds: number[] = [];
  private usedIds = 0;

  // ---- the leaves in key order
  /** Ids of the leaves in key order (the first `nl` cells). */
  private order = NO_IDS;
  /** First approximate key of each leaf, parallel to `order`. */
  private keys = NO_BOUNDS;
  private nl = 0;

  /**
   * Cursor set by `floor()`: position in `order` and index in that leaf of the last extent with
   * start ≤ the address (ci = -1: none). A cursor instead of a returned position object keeps the
   * hot paths allocation-free.
   */
  private cl = 0;
  private ci = -1;

  /**
   * Entries are slot numbers (non-negative int32): kept in Int32Arrays, moved by memmove, 4 B each
   * (`SlotTable`'s index). Otherwise entries are any values, kept in JS arrays.
   */
  private readonly slots: boolean;

  constructor(opts: { leafSize?: number; slots?: boolean } = {}) {
    this.leafSize = Math.max(4, opts.leafSize ?? DEFAULT_LEAF_SIZE);
    this.slots = opts.slots ?? false;
  }

  /** An entry array of `n` cells (see `slots`). */
  private newItems(n: number): E[] {
    return this.slots ? (new Int32Array(n) as unknown as E[]) : new Array<E>(n);
  }

  get size(): number {
    return this.count;
  }

  // ---- pool management

  /** Slab base of leaf `id` in its chunks. */
  private baseOf(id: number): number {
    return (id & IN_CHUNK) * this.leafSize;
  }

  /** A fresh leaf id with an empty slab (may replace the chunk arrays: re-read them after). */
  private newLeaf(): number {
    const id = this.freeIds.length > 0 ? this.freeIds.pop()! : this.usedIds++;
    if (id >= this.idCapacity) this.growIds();
    this.counts[id] = 0;
    this.gaps[id] = NaN;
    return id;
  }

  /** Room for one more leaf id: the first chunk doubles up to 64 slabs, then chunks are added. */
  private growIds(): void {
    const L = this.leafSize;
    const per = 1 << CHUNK_SHIFT;
    if (this.idCapacity >= per) {
      this.boundsChunks.push(new Float64Array(2 * L * per));
      this.itemChunks.push(this.newItems(L * per));
      this.idCapacity += per;
    } else {
      const cap = this.idCapacity === 0 ? 1 : this.idCapacity * 2;
      // One leaf starts with a short slab (grown by `reserveSmall`); more get whole slabs.
      const slab = cap === 1 ? INITIAL_SLAB : L;
      const bounds = new Float64Array(2 * slab * cap);
      const items = this.newItems(slab * cap);
      if (this.idCapacity > 0) {
        // Slabs keep their bases (base = id · L), except leaf 0's short slab, which is at 0 anyway.
        const oldB = this.boundsChunks[0]!;
        const oldI = this.itemChunks[0]!;
        bounds.set(oldB.subarray(0, Math.min(oldB.length, bounds.length)));
        for (let j = 0; j < oldI.length; j++) items[j] = oldI[j]!;
      }
      this.boundsChunks = [bounds];
      this.itemChunks = [items];
      this.smallSlab = cap === 1 ? slab : 0;
      this.idCapacity = cap;
    }
    if (this.counts.length < this.idCapacity) {
      const counts = new Int32Array(this.idCapacity);
      counts.set(this.counts);
      this.counts = counts;
      const gaps = new Float64Array(this.idCapacity);
      gaps.set(this.gaps);
      this.gaps = gaps;
    }
  }

  /** While leaf 0 is the only leaf id, make its slab hold one more entry (growth by a quarter). */
  private reserveSmall(n: number): void {
    if (this.idCapacity !== 1 || n < this.smallSlab) return;
    const slab = Math.min(this.leafSize, this.smallSlab + Math.max(4, this.smallSlab >> 2));
    const bounds = new Float64Array(2 * slab);
    bounds.set(this.boundsChunks[0]!.subarray(0, 2 * n));
    const items = this.newItems(slab);
    const old = this.itemChunks[0]!;
    for (let j = 0; j < n; j++) items[j] = old[j]!;
    this.boundsChunks[0] = bounds;
    this.itemChunks[0] = items;
    this.smallSlab = slab;
  }

  /** Insert leaf `id` at position `p` of the key order. */
  private orderInsert(p: number, id: number, key: number): void {
    if (this.nl === this.order.length) {
      const cap = Math.max(4, this.nl * 2);
      const order = new Int32Array(cap);
      order.set(this.order.subarray(0, this.nl));
      const keys = new Float64Array(cap);
      keys.set(this.keys.subarray(0, this.nl));
      this.order = order;
      this.keys = keys;
    }
    this.order.copyWithin(p + 1, p, this.nl);
    this.keys.copyWithin(p + 1, p, this.nl);
    this.order[p] = id;
    this.keys[p] = key;
    this.nl++;
  }

  /** Drop every leaf and pool (the index is empty). */
  private resetPools(): void {
    this.boundsChunks = [];
    this.itemChunks = [];
    this.idCapacity = 0;
    this.smallSlab = 0;
    this.counts = NO_IDS;
    this.gaps = NO_BOUNDS;
    this.freeIds = [];
    this.usedIds = 0;
    this.order = NO_IDS;
    this.keys = NO_BOUNDS;
    this.nl = 0;
    this.cl = 0;
    this.ci = -1;
  }

  /** Move a solo extent into a leaf (the general structure). */
  private unsolo(): void {
    const e = this.solo;
    if (e === null) return;
    this.solo = null;
    const id = this.newLeaf();
    const base = this.baseOf(id);
    const xs = Number(this.startOf(e));
    const bounds = this.boundsChunks[id >>> CHUNK_SHIFT]!;
    bounds[2 * base] = xs;
    bounds[2 * base + 1] = Number(this.lastOf(e));
    this.itemChunks[id >>> CHUNK_SHIFT]![base] = e;
    this.counts[id] = 1;
    this.orderInsert(0, id, xs);
  }

  // ---- search

  /** Position (in key order) of the leaf holding the last extent with start ≤ addr (or 0). */
  private leafFor(x: number, addr: bigint): number {
    const keys = this.keys;
    let lo = 0;
    let hi = this.nl;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    let p = lo - 1;
    // Tie-break above 2^53: a leaf whose first key rounds equal may start after addr (below,
    // equal doubles are equal values).
    if (x >= 2 ** 53)
      while (p > 0 && keys[p] === x && this.startOf(this.entry(this.order[p]!, 0)) > addr) p--;
    return p < 0 ? 0 : p;
  }

  private entry(id: number, i: number): E {
    return this.itemChunks[id >>> CHUNK_SHIFT]![this.baseOf(id) + i]!;
  }

  /**
   * Set the cursor on the last extent with start ≤ addr; false (ci = -1) when there is none. `x` is
   * `Number(addr)`, converted once by the caller (a BigInt conversion is a runtime call).
   */
  private floor(x: number, addr: bigint): boolean {
    if (this.solo !== null) this.unsolo();
    if (this.nl === 0) {
      this.ci = -1;
      return false;
    }
    const p = this.leafFor(x, addr);
    const id = this.order[p]!;
    const bounds = this.boundsChunks[id >>> CHUNK_SHIFT]!;
    const base = (id & IN_CHUNK) * this.leafSize;
    let lo = 0;
    let hi = this.counts[id]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (bounds[2 * (base + mid)]! <= x) lo = mid + 1;
      else hi = mid;
    }
    if (x >= 2 ** 53)
      while (lo > 0 && bounds[2 * (base + lo) - 2] === x && this.startOf(this.entry(id, lo - 1)) > addr) lo--;
    if (lo > 0) {
      this.cl = p;
      this.ci = lo - 1;
      return true;
    }
    if (p > 0) {
      this.cl = p - 1;
      this.ci = this.counts[this.order[p - 1]!]! - 1;
      return true;
    }
    this.cl = 0;
    this.ci = -1;
    return false;
  }

  /** Move the cursor to the entry after it (or to the first entry when ci = -1); false past the end. */
  private step(): boolean {
    if (this.cl >= this.nl) return false;
    if (++this.ci < this.counts[this.order[this.cl]!]!) return true;
    this.cl++;
    this.ci = 0;
    return this.cl < this.nl;
  }

  private cur(): E {
    return this.entry(this.order[this.cl]!, this.ci);
  }

  /** Approximate start (k = 0) or last (k = 1) of the cursor's extent. */
  private curBound(k: number): number {
    const id = this.order[this.cl]!;
    return this.boundsChunks[id >>> CHUNK_SHIFT]![2 * (this.baseOf(id) + this.ci) + k]!;
  }

  // The cursor's bounds compared with an address from the leaf's doubles alone: rounding is monotonic,
  // so unequal doubles decide, and equal ones below 2^53 are equal values. Only a tie above 2^53 reads
  // the extent itself.

  /** The cursor's extent starts exactly at `addr` (`x` = Number(addr)). */
  private curStartIs(x: number, addr: bigint): boolean {
    const k = this.curBound(0);
    if (k !== x) return false;
    return x < 2 ** 53 || this.startOf(this.cur()) === addr;
  }

  /** The cursor's extent starts at or before `addr`. */
  private curStartAtMost(x: number, addr: bigint): boolean {
    const k = this.curBound(0);
    if (k !== x) return k < x;
    return x < 2 ** 53 || this.startOf(this.cur()) <= addr;
  }

  /** The cursor's extent ends at or after `addr`. */
  private curLastAtLeast(x: number, addr: bigint): boolean {
    const l = this.curBound(1);
    if (l !== x) return l > x;
    return x < 2 ** 53 || this.lastOf(this.cur()) >= addr;
  }

  // ---- changes

  /**
   * Insert entry `e` over [start, last] (its own bounds, passed in so they are not read back) unless
   * it overlaps an entry already there (then false, nothing changed).
   */
  protected placeEntry(e: E, start: bigint, last: bigint): boolean {
    if (start > last) throw new RangeError("extent start > last");
    if (this.count === 0) {
      this.solo = e;
      this.count = 1;
      return true;
    }
    const xs = Number(start);
    const xl = Number(last);
    // The floor of `start` is the insertion point (right after it); clashes() may move the cursor.
    const found = this.floor(xs, start);
    const p = found ? this.cl : 0;
    const i = found ? this.ci + 1 : 0;
    if (this.clashesAtCursor(found, xs, start, xl, last)) return false;
    const id = this.order[p]!;
    const n = this.counts[id]!;
    this.reserveSmall(n);
    const items = this.itemChunks[id >>> CHUNK_SHIFT]!;
    const bounds = this.boundsChunks[id >>> CHUNK_SHIFT]!;
    const base = (id & IN_CHUNK) * this.leafSize;
    if (i < n) {
      // Slots move by memmove; other entries by hand (Array.prototype.copyWithin is several times
      // slower on JS arrays).
      if (this.slots) (items as unknown as Int32Array).copyWithin(base + i + 1, base + i, base + n);
      else for (let j = base + n; j > base + i; j--) items[j] = items[j - 1]!;
      bounds.copyWithin(2 * (base + i) + 2, 2 * (base + i), 2 * (base + n));
    }
    items[base + i] = e;
    bounds[2 * (base + i)] = xs;
    bounds[2 * (base + i) + 1] = xl;
    if (i === 0) this.keys[p] = xs;
    this.gaps[id] = NaN;
    this.counts[id] = n + 1;
    this.count++;
    if (n + 1 === this.leafSize) this.split(p);
    return true;
  }

  /**
   * Does [start, last] overlap the extent with the greatest start ≤ start, or the one after it?
   * Doubles decide unless they tie (rounding is monotonic: a < b as doubles implies a < b exactly).
   */
  private clashes(start: bigint, last: bigint): boolean {
    const xs = Number(start);
    return this.clashesAtCursor(this.floor(xs, start), xs, start, Number(last), last);
  }

  /** `clashes` with the cursor already on the floor of `start` (`found` = floor exists). */
  private clashesAtCursor(found: boolean, xs: number, start: bigint, xl: number, last: bigint): boolean {
    if (found) {
      const prevLast = this.curBound(1);
      if (prevLast > xs || (prevLast === xs && this.lastOf(this.cur()) >= start)) return true;
    }
    if (this.step()) {
      const nextStart = this.curBound(0);
      if (nextStart < xl || (nextStart === xl && this.startOf(this.cur()) <= last)) return true;
    }
    return false;
  }

  /** Split the full leaf at position `p`: its upper half moves to a new leaf after it. */
  private split(p: number): void {
    const id = this.order[p]!;
    const nid = this.newLeaf();
    const n = this.counts[id]!;
    const half = n >>> 1;
    const base = this.baseOf(id);
    const nbase = this.baseOf(nid);
    const bounds = this.boundsChunks[id >>> CHUNK_SHIFT]!;
    const items = this.itemChunks[id >>> CHUNK_SHIFT]!;
    const nbounds = this.boundsChunks[nid >>> CHUNK_SHIFT]!;
    const nitems = this.itemChunks[nid >>> CHUNK_SHIFT]!;
    nbounds.set(bounds.subarray(2 * (base + half), 2 * (base + n)), 2 * nbase);
    for (let j = half; j < n; j++) {
      nitems[nbase + j - half] = items[base + j]!;
      if (!this.slots) items[base + j] = undefined as E; // no reference kept from a free cell
    }
    this.counts[id] = half;
    this.counts[nid] = n - half;
    this.gaps[id] = NaN;
    this.orderInsert(p + 1, nid, nbounds[2 * nbase]!);
  }

  private removeAt(p: number, i: number): E {
    const id = this.order[p]!;
    const items = this.itemChunks[id >>> CHUNK_SHIFT]!;
    const bounds = this.boundsChunks[id >>> CHUNK_SHIFT]!;
    const base = (id & IN_CHUNK) * this.leafSize;
    const n = this.counts[id]!;
    const e = items[base + i]!;
    // Shift (see placeEntry), then clear the freed cell of a reference.
    if (this.slots) (items as unknown as Int32Array).copyWithin(base + i, base + i + 1, base + n);
    else {
      for (let j = base + i + 1; j < base + n; j++) items[j - 1] = items[j]!;
      items[base + n - 1] = undefined as E;
    }
    if (i < n - 1) bounds.copyWithin(2 * (base + i), 2 * (base + i) + 2, 2 * (base + n));
    this.counts[id] = n - 1;
    this.gaps[id] = NaN;
    this.count--;
    if (n === 1) {
      // An emptied leaf leaves the order; its id is reused. The last one takes the pools with it.
      this.order.copyWithin(p, p + 1, this.nl);
      this.keys.copyWithin(p, p + 1, this.nl);
      this.nl--;
      this.freeIds.push(id);
      if (this.nl === 0) this.resetPools();
    } else if (i === 0) {
      this.keys[p] = bounds[2 * base]!;
    }
    return e;
  }

  /** Remove the extent starting exactly at `start`; returns it, or undefined. */
  remove(start: bigint): E | undefined {
    const solo = this.solo;
    if (solo !== null) {
      if (this.startOf(solo) !== start) return undefined;
      this.solo = null;
      this.count = 0;
      return solo;
    }
    const x = Number(start);
    if (!this.floor(x, start) || !this.curStartIs(x, start)) return undefined;
    return this.removeAt(this.cl, this.ci);
  }

  /**
   * Remove entry `e` itself (the same object or slot, found by `find`/`get`/an insert...); false
   * when it is not in the map. When the cursor of the last search still rests on it — a lookup then
   * a removal with no change in between, the unmap path — no second search is made.
   */
  removeEntry(e: E): boolean {
    if (this.solo !== null) {
      if (this.solo !== e) return false;
      this.solo = null;
      this.count = 0;
      return true;
    }
    if (
      this.ci >= 0 &&
      this.cl < this.nl &&
      this.ci < this.counts[this.order[this.cl]!]! &&
      this.cur() === e
    ) {
      this.removeAt(this.cl, this.ci);
      return true;
    }
    const start = this.startOf(e);
    if (!this.floor(Number(start), start) || this.cur() !== e) return false;
    this.removeAt(this.cl, this.ci);
    return true;
  }

  // ---- lookups

  /** The extent containing addr. */
  find(addr: bigint): E | undefined {
    const solo = this.solo;
    if (solo !== null) return this.startOf(solo) <= addr && this.lastOf(solo) >= addr ? solo : undefined;
    const x = Number(addr);
    if (!this.floor(x, addr)) return undefined;
    return this.curLastAtLeast(x, addr) ? this.cur() : undefined;
  }

  get(start: bigint): E | undefined {
    const solo = this.solo;
    if (solo !== null) return this.startOf(solo) === start ? solo : undefined;
    const x = Number(start);
    if (!this.floor(x, start)) return undefined;
    return this.curStartIs(x, start) ? this.cur() : undefined;
  }

  /** Set the cursor on the first extent that ends at or after addr; false when there is none. */
  private firstEndingAtOrAfter(addr: bigint): boolean {
    const x = Number(addr);
    if (this.floor(x, addr) && this.curLastAtLeast(x, addr)) return true;
    return this.step();
  }

  /** Extents intersecting [start, last], ascending. */
  overlapping(start: bigint, last: bigint): E[] {
    const solo = this.solo;
    if (solo !== null) return this.startOf(solo) <= last && this.lastOf(solo) >= start ? [solo] : [];
    const out: E[] = [];
    if (!this.firstEndingAtOrAfter(start)) return out;
    let i = this.ci;
    for (let p = this.cl; p < this.nl; p++, i = 0) {
      const id = this.order[p]!;
      const n = this.counts[id]!;
      for (; i < n; i++) {
        const e = this.entry(id, i);
        if (this.startOf(e) > last) return out;
        out.push(e);
      }
    }
    return out;
  }

  /** Remove every extent intersecting [start, last] (whole, never split); returns them ascending. */
  removeOverlapping(start: bigint, last: bigint): E[] {
    const solo = this.solo;
    if (solo !== null) {
      if (this.startOf(solo) > last || this.lastOf(solo) < start) return [];
      this.solo = null;
      this.count = 0;
      return [solo];
    }
    if (!this.firstEndingAtOrAfter(start)) return [];
    const out: E[] = [];
    let p = this.cl;
    let i = this.ci;
    while (p < this.nl) {
      const id = this.order[p]!;
      if (i >= this.counts[id]!) {
        p++;
        i = 0;
        continue;
      }
      const e = this.entry(id, i);
      if (this.startOf(e) > last) break;
      out.push(e);
      const nl = this.nl;
      this.removeAt(p, i);
      // An emptied leaf is dropped: the next leaf moved to p. Otherwise i is the next entry.
      if (this.nl < nl) i = 0;
    }
    return out;
  }

  /** First extent intersecting [start, last], or undefined. */
  firstOverlapping(start: bigint, last: bigint): E | undefined {
    if (!this.firstEndingAtOrAfter(start)) return undefined;
    return this.curStartAtMost(Number(last), last) ? this.cur() : undefined;
  }

  hasOverlap(start: bigint, last: bigint): boolean {
    if (this.count === 0) return false;
    if (start > last) return false;
    return this.clashes(start, last);
  }

  /** First extent with start ≥ addr. */
  ceiling(addr: bigint): E | undefined {
    const x = Number(addr);
    if (this.floor(x, addr) && this.curStartIs(x, addr)) return this.cur();
    return this.step() ? this.cur() : undefined;
  }

  /** Largest gap between consecutive entries of leaf `id` (doubles), computed when stale. */
  private gapOf(id: number): number {
    let g = this.gaps[id]!;
    if (!Number.isNaN(g)) return g;
    const bounds = this.boundsChunks[id >>> CHUNK_SHIFT]!;
    const base = this.baseOf(id);
    g = -Infinity;
    for (let j = base; j + 1 < base + this.counts[id]!; j++) {
      const d = bounds[2 * j + 2]! - bounds[2 * j + 1]!;
      if (d > g) g = d;
    }
    this.gaps[id] = g;
    return g;
  }

  /**
   * Visit the holes of [start, last] — maximal ranges no extent covers — in ascending order, passing
   * over holes shorter than `minLength`; stop when `visit` returns true. Leaves whose largest inner
   * gap is too small are skipped whole (their gap summary is recomputed lazily after a change), so a
   * first-fit search over n fragmented extents costs O(n / 256 + 256), not O(n). Doubles only decide
   * skips, with a margin above their rounding error; every visited hole is exact.
   */
  forEachHole(
    start: bigint,
    last: bigint,
    minLength: bigint,
    visit: (holeStart: bigint, holeLast: bigint) => boolean,
  ): void {
    if (start > last) return;
    const want = Number(minLength);
    let cur = start;
    if (this.firstEndingAtOrAfter(start)) {
      let p = this.cl;
      let i = this.ci;
      while (p < this.nl) {
        const id = this.order[p]!;
        const n = this.counts[id]!;
        if (i === 0 && n > 1) {
          const bounds = this.boundsChunks[id >>> CHUNK_SHIFT]!;
          const base = this.baseOf(id);
          const need = want - slackAt(bounds[2 * (base + n) - 1]!);
          // Skip the leaf: no inner gap and no gap before its first entry can hold minLength.
          const tailLast = this.lastOf(this.entry(id, n - 1));
          if (this.gapOf(id) < need && bounds[2 * base]! - Number(cur) < need && tailLast < last) {
            if (tailLast >= cur) cur = tailLast + 1n;
            p++;
            continue;
          }
        }
        for (; i < n; i++) {
          const e = this.entry(id, i);
          const eStart = this.startOf(e);
          if (eStart > cur) {
            const holeLast = eStart - 1n < last ? eStart - 1n : last;
            if (holeLast - cur + 1n >= minLength && visit(cur, holeLast)) return;
          }
          if (eStart > last) return;
          const eLast = this.lastOf(e);
          if (eLast >= cur) {
            if (eLast >= last) return;
            cur = eLast + 1n;
          }
        }
        p++;
        i = 0;
      }
    }
    if (last - cur + 1n >= minLength) visit(cur, last);
  }

  first(): E | undefined {
    if (this.solo !== null) return this.solo;
    return this.nl > 0 ? this.entry(this.order[0]!, 0) : undefined;
  }

  last(): E | undefined {
    if (this.solo !== null) return this.solo;
    if (this.nl === 0) return undefined;
    const id = this.order[this.nl - 1]!;
    return this.entry(id, this.counts[id]! - 1);
  }

  clear(): void {
    this.resetPools();
    this.solo = null;
    this.count = 0;
  }

  *[Symbol.iterator](): IterableIterator<E> {
    yield* this.values();
  }

  values(): E[] {
    if (this.solo !== null) return [this.solo];
    const out: E[] = [];
    for (let p = 0; p < this.nl; p++) {
      const id = this.order[p]!;
      const n = this.counts[id]!;
      for (let i = 0; i < n; i++) out.push(this.entry(id, i));
    }
    return out;
  }
}
