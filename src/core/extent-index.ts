/**
 * Ordered index of non-overlapping extents [start, last] (inclusive), keyed by start — the one
 * interval structure of the engine, over entries of any kind: `ExtentMap` holds extent objects (the
 * iommufd area/allowed/reserved trees, every domain's translation table), type1's `DmaTable` holds
 * slot numbers of its columns. A subclass says where an entry's exact bounds are (`startOf`/`lastOf`).
 *
 * Structure: a two-level sorted array (a "chunked list", B+tree of height 2). Entries live in leaves
 * of at most 256, each with one Float64Array of approximate bounds (`Number(start)`, `Number(last)`, interleaved);
 * a top array holds each leaf's first key. Search is a binary search over leaves then inside one leaf
 * on plain doubles — no BigInt arithmetic on the hot path. Doubles round above 2^53, but rounding is
 * monotonic, so order by double is consistent with order by bigint and only equal doubles need the
 * exact compare (tie-break); the entry's exact bounds are read only then. Costs: find O(log n);
 * insert/remove O(log n) search plus a move of at most a leaf (256 entries; leaf split/merge moves
 * O(n / 256) leaf pointers). Memory: one entry and two doubles per extent; a leaf's bounds array starts
 * at 4 entries and grows by a quarter (split halves are sized to their entries), so an index of one
 * extent (a 1 TiB mapping, one pin store) costs a few dozen bytes, not a 4 KiB leaf, and a full one
 * ~20 B of arrays per entry.
 * Searches leave a cursor in two fields instead of returning position objects: no allocation on the
 * map/unmap path. Why not a balanced tree: a pointer tree costs a node object per entry (~100 B in
 * V8) and chases pointers; sorted doubles in 256-entry leaves are cache-friendly and the memmove on
 * insert is short.
 */

const DEFAULT_LEAF_SIZE = 256;
/** First capacity of a leaf (entries): small maps (one per pin store, per domain) stay small. */
const INITIAL_LEAF_CAPACITY = 4;

class Leaf<E> {
  /**
   * Each entry's approximate bounds, interleaved: `Number(start)` at 2i, `Number(last)` at 2i + 1 —
   * one array (one allocation per resize) and an entry's two doubles on one cache line.
   */
  bounds: Float64Array;
  items: E[] = [];
  /**
   * Largest gap between consecutive entries, start of j + 1 minus last of j in doubles, or NaN when a
   * change made it stale (recomputed on demand by hole searches, never on the map/unmap path).
   */
  maxGap = NaN;
  constructor(capacity: number) {
    this.bounds = new Float64Array(2 * capacity);
  }
  /**
   * Make room for one more entry (never beyond `max`). Growth by a quarter, not doubling: a leaf's
   * bounds array then stays within ~25% of its entries (16 B per entry at 100%), for a copy of the
   * array every few dozen inserts into that leaf.
   */
  reserve(max: number): void {
    const cap = this.bounds.length >> 1;
    if (this.items.length < cap) return;
    this.resize(Math.min(max, cap + Math.max(4, cap >> 2)));
  }

  /** A bounds array of `capacity` entries (≥ the entries held), keeping the bounds. */
  resize(capacity: number): void {
    const n = this.items.length;
    const bounds = new Float64Array(2 * capacity);
    bounds.set(this.bounds.subarray(0, 2 * n));
    this.bounds = bounds;
  }
}

/**
 * Margin for a gap computed in doubles near `x`: none below 2^53 (integers there are exact, and so
 * is their difference); above, a few units in the last place (each rounding is at most half one).
 */
function slackAt(x: number): number {
  return x < 2 ** 53 ? 0 : x * 2 ** -50;
}

function innerMaxGap(bounds: Float64Array, n: number): number {
  let max = -Infinity;
  for (let j = 0; j + 1 < n; j++) {
    const g = bounds[2 * j + 2]! - bounds[2 * j + 1]!;
    if (g > max) max = g;
  }
  return max;
}

/**
 * The leaf arrays of a map that never had two extents: shared (frozen: an empty map never pushes a
 * leaf — its first extent goes to `solo`, `unsolo` makes fresh arrays), saving two arrays per map.
 */
const NO_LEAVES: readonly Leaf<never>[] = Object.freeze([]);
const NO_KEYS: readonly number[] = Object.freeze([]);

export abstract class ExtentIndex<E> {
  /** The exact bounds of an entry (read only on a double tie above 2^53 and by range walks). */
  protected abstract startOf(e: E): bigint;
  protected abstract lastOf(e: E): bigint;

  private leaves = NO_LEAVES as unknown as Leaf<E>[];
  /** First approximate key of each leaf (parallel to `leaves`). */
  private leafKeys = NO_KEYS as unknown as number[];
  private count = 0;
  /** Entries per leaf before it splits (small values only make sense in tests). */
  private readonly leafSize: number;
  /**
   * Cursor set by `floor()`: leaf and index of the last extent with start ≤ the address (ci = -1:
   * none). A cursor instead of a returned position object keeps the hot paths allocation-free.
   */
  private cl = 0;
  private ci = -1;
  /**
   * A map of exactly one extent that has never had a second keeps it here and has no leaf at all
   * (most maps of the engine — one pin store per mapping — hold one extent; a leaf with its two key
   * arrays costs ~400 B). Any search that needs the leaf structure builds it first (`unsolo`).
   */
  private solo: E | null = null;

  constructor(opts: { leafSize?: number } = {}) {
    this.leafSize = Math.max(4, opts.leafSize ?? DEFAULT_LEAF_SIZE);
  }

  get size(): number {
    return this.count;
  }

  /** Leaf holding the last extent with start ≤ addr (or leaf 0). */
  private leafFor(x: number, addr: bigint): number {
    const keys = this.leafKeys;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    let li = lo - 1;
    // Tie-break above 2^53: a leaf whose first key rounds equal may start after addr (below,
    // equal doubles are equal values).
    if (x >= 2 ** 53)
      while (li > 0 && keys[li] === x && this.startOf(this.leaves[li]!.items[0]!) > addr) li--;
    return li < 0 ? 0 : li;
  }

  /** Move a solo extent into a leaf (the general structure). */
  private unsolo(): void {
    const e = this.solo;
    if (e === null) return;
    this.solo = null;
    // Array literals, not push(): a pushed-to empty array reserves 17 slots.
    const leaf = new Leaf<E>(INITIAL_LEAF_CAPACITY);
    leaf.items = [e];
    const xs = Number(this.startOf(e));
    leaf.bounds[0] = xs;
    leaf.bounds[1] = Number(this.lastOf(e));
    this.leaves = [leaf];
    this.leafKeys = [xs];
  }

  /** Set the cursor on the last extent with start ≤ addr; false (ci = -1) when there is none. */
  private floor(addr: bigint): boolean {
    if (this.solo !== null) this.unsolo();
    const leaves = this.leaves;
    if (leaves.length === 0) {
      this.ci = -1;
      return false;
    }
    const x = Number(addr);
    const li = this.leafFor(x, addr);
    const leaf = leaves[li]!;
    const bounds = leaf.bounds;
    let lo = 0;
    let hi = leaf.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (bounds[2 * mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    if (x >= 2 ** 53)
      while (lo > 0 && bounds[2 * lo - 2] === x && this.startOf(leaf.items[lo - 1]!) > addr) lo--;
    if (lo > 0) {
      this.cl = li;
      this.ci = lo - 1;
      return true;
    }
    if (li > 0) {
      this.cl = li - 1;
      this.ci = leaves[li - 1]!.items.length - 1;
      return true;
    }
    this.cl = 0;
    this.ci = -1;
    return false;
  }

  /** Move the cursor to the entry after it (or to the first entry when ci = -1); false past the end. */
  private step(): boolean {
    const leaf = this.leaves[this.cl];
    if (!leaf) return false;
    if (++this.ci < leaf.items.length) return true;
    this.cl++;
    this.ci = 0;
    return this.cl < this.leaves.length;
  }

  private cur(): E {
    return this.leaves[this.cl]!.items[this.ci]!;
  }

  // The cursor's bounds compared with an address from the leaf's doubles alone: rounding is monotonic,
  // so unequal doubles decide, and equal ones below 2^53 are equal values. Only a tie above 2^53 reads
  // the extent itself — at 10^6 entries that read is a cache miss per search, the dominant cost.

  /** The cursor's extent starts exactly at `addr` (`x` = Number(addr)). */
  private curStartIs(x: number, addr: bigint): boolean {
    const k = this.leaves[this.cl]!.bounds[2 * this.ci]!;
    if (k !== x) return false;
    return x < 2 ** 53 || this.startOf(this.cur()) === addr;
  }

  /** The cursor's extent starts at or before `addr`. */
  private curStartAtMost(x: number, addr: bigint): boolean {
    const k = this.leaves[this.cl]!.bounds[2 * this.ci]!;
    if (k !== x) return k < x;
    return x < 2 ** 53 || this.startOf(this.cur()) <= addr;
  }

  /** The cursor's extent ends at or after `addr`. */
  private curLastAtLeast(x: number, addr: bigint): boolean {
    const l = this.leaves[this.cl]!.bounds[2 * this.ci + 1]!;
    if (l !== x) return l > x;
    return x < 2 ** 53 || this.lastOf(this.cur()) >= addr;
  }

  /**
   * Insert entry `e` over [start, last] (its own bounds, passed in so they are not read back) unless
   * it overlaps an entry already there (then false, nothing changed).
   */
  protected placeEntry(e: E, start: bigint, last: bigint): boolean {
    if (start > last) throw new RangeError("extent start > last");
    if (this.count === 0) {
      // (No leaves remain when the map is empty: an emptied leaf is dropped.)
      this.solo = e;
      this.count = 1;
      return true;
    }
    const xs = Number(start);
    const xl = Number(last);
    // The floor of `start` is the insertion point (right after it); clashes() may move the cursor.
    const found = this.floor(start);
    const li = found ? this.cl : 0;
    const i = found ? this.ci + 1 : 0;
    if (this.clashesAtCursor(found, start, last)) return false;
    const leaf = this.leaves[li]!;
    leaf.reserve(this.leafSize);
    const items = leaf.items;
    const n = items.length;
    // Shift by hand: splice() would allocate the (empty) array of removed entries on every insert.
    items.push(e);
    if (i < n) {
      for (let j = n; j > i; j--) items[j] = items[j - 1]!;
      items[i] = e;
      leaf.bounds.copyWithin(2 * i + 2, 2 * i, 2 * n);
    }
    leaf.bounds[2 * i] = xs;
    leaf.bounds[2 * i + 1] = xl;
    if (i === 0) this.leafKeys[li] = xs;
    leaf.maxGap = NaN;
    this.count++;
    if (leaf.items.length === this.leafSize) this.split(li);
    return true;
  }

  /**
   * Does [start, last] overlap the extent with the greatest start ≤ start, or the one after it?
   * Doubles decide unless they tie (rounding is monotonic: a < b as doubles implies a < b exactly).
   */
  private clashes(start: bigint, last: bigint): boolean {
    return this.clashesAtCursor(this.floor(start), start, last);
  }

  /** `clashes` with the cursor already on the floor of `start` (`found` = floor exists). */
  private clashesAtCursor(found: boolean, start: bigint, last: bigint): boolean {
    if (found) {
      const leaf = this.leaves[this.cl]!;
      const prevLast = leaf.bounds[2 * this.ci + 1]!;
      const xs = Number(start);
      if (prevLast > xs || (prevLast === xs && this.lastOf(leaf.items[this.ci]!) >= start)) return true;
    }
    if (this.step()) {
      const leaf = this.leaves[this.cl]!;
      const nextStart = leaf.bounds[2 * this.ci]!;
      const xl = Number(last);
      if (nextStart < xl || (nextStart === xl && this.startOf(leaf.items[this.ci]!) <= last)) return true;
    }
    return false;
  }

  private split(li: number): void {
    const leaf = this.leaves[li]!;
    const n = leaf.items.length;
    const half = n >>> 1;
    // Both halves get arrays sized to their entries plus a quarter (slice() and a fresh leaf):
    // a split leaf would otherwise keep the whole leaf's capacity for half its entries.
    const room = (k: number): number => Math.min(this.leafSize, k + (k >> 2));
    const right = new Leaf<E>(room(n - half));
    right.items = leaf.items.slice(half);
    right.bounds.set(leaf.bounds.subarray(2 * half, 2 * n));
    leaf.items = leaf.items.slice(0, half);
    leaf.resize(room(half));
    leaf.maxGap = NaN;
    this.leaves.splice(li + 1, 0, right);
    this.leafKeys.splice(li + 1, 0, right.bounds[0]!);
  }

  private removeAt(li: number, i: number): E {
    const leaf = this.leaves[li]!;
    const items = leaf.items;
    const e = items[i]!;
    const n = items.length;
    // Shift by hand, then pop: splice() would allocate the array of removed entries.
    for (let j = i + 1; j < n; j++) items[j - 1] = items[j]!;
    items.pop();
    if (i < n - 1) {
      leaf.bounds.copyWithin(2 * i, 2 * i + 2, 2 * n);
    }
    this.count--;
    leaf.maxGap = NaN;
    if (items.length === 0) {
      this.leaves.splice(li, 1);
      this.leafKeys.splice(li, 1);
    } else if (i === 0) {
      this.leafKeys[li] = leaf.bounds[0]!;
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
    if (!this.floor(start) || !this.curStartIs(Number(start), start)) return undefined;
    return this.removeAt(this.cl, this.ci);
  }

  /**
   * Remove entry `e` itself (the same object or slot, found by `find`/`get`/an insert...); false
   * when it is not in the map. When the cursor of the last search still rests on it — a lookup then a removal
   * with no change in between, the unmap path — no second search is made.
   */
  removeEntry(e: E): boolean {
    if (this.solo !== null) {
      if (this.solo !== e) return false;
      this.solo = null;
      this.count = 0;
      return true;
    }
    if (this.ci >= 0 && this.leaves[this.cl]?.items[this.ci] === e) {
      this.removeAt(this.cl, this.ci);
      return true;
    }
    if (!this.floor(this.startOf(e)) || this.cur() !== e) return false;
    this.removeAt(this.cl, this.ci);
    return true;
  }

  /** The extent containing addr. */
  find(addr: bigint): E | undefined {
    const solo = this.solo;
    if (solo !== null) return this.startOf(solo) <= addr && this.lastOf(solo) >= addr ? solo : undefined;
    if (!this.floor(addr)) return undefined;
    return this.curLastAtLeast(Number(addr), addr) ? this.cur() : undefined;
  }

  get(start: bigint): E | undefined {
    const solo = this.solo;
    if (solo !== null) return this.startOf(solo) === start ? solo : undefined;
    if (!this.floor(start)) return undefined;
    return this.curStartIs(Number(start), start) ? this.cur() : undefined;
  }

  /** Set the cursor on the first extent that ends at or after addr; false when there is none. */
  private firstEndingAtOrAfter(addr: bigint): boolean {
    if (this.floor(addr) && this.curLastAtLeast(Number(addr), addr)) return true;
    return this.step();
  }

  /** Extents intersecting [start, last], ascending. */
  overlapping(start: bigint, last: bigint): E[] {
    const solo = this.solo;
    if (solo !== null) return this.startOf(solo) <= last && this.lastOf(solo) >= start ? [solo] : [];
    const out: E[] = [];
    if (!this.firstEndingAtOrAfter(start)) return out;
    let index = this.ci;
    for (let leaf = this.cl; leaf < this.leaves.length; leaf++, index = 0) {
      const items = this.leaves[leaf]!.items;
      for (; index < items.length; index++) {
        const e = items[index]!;
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
    const leaves = this.leaves;
    let li = this.cl;
    let i = this.ci;
    while (li < leaves.length) {
      const items = leaves[li]!.items;
      if (i >= items.length) {
        li++;
        i = 0;
        continue;
      }
      const e = items[i]!;
      if (this.startOf(e) > last) break;
      out.push(e);
      const n = leaves.length;
      this.removeAt(li, i);
      // An emptied leaf is dropped: the next leaf moved to li. Otherwise i is the next entry.
      if (leaves.length < n) i = 0;
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
    if (this.floor(addr) && this.curStartIs(Number(addr), addr)) return this.cur();
    return this.step() ? this.cur() : undefined;
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
      const leaves = this.leaves;
      let li = this.cl;
      let i = this.ci;
      while (li < leaves.length) {
        const leaf = leaves[li]!;
        const items = leaf.items;
        const n = items.length;
        if (i === 0 && n > 1) {
          if (Number.isNaN(leaf.maxGap)) leaf.maxGap = innerMaxGap(leaf.bounds, n);
          const tail = items[n - 1]!;
          const need = want - slackAt(leaf.bounds[2 * n - 1]!);
          // Skip the leaf: no inner gap and no gap before its first entry can hold minLength.
          const tailLast = this.lastOf(tail);
          if (leaf.maxGap < need && leaf.bounds[0]! - Number(cur) < need && tailLast < last) {
            if (tailLast >= cur) cur = tailLast + 1n;
            li++;
            continue;
          }
        }
        for (; i < n; i++) {
          const e = items[i]!;
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
        li++;
        i = 0;
      }
    }
    if (last - cur + 1n >= minLength) visit(cur, last);
  }

  first(): E | undefined {
    if (this.solo !== null) return this.solo;
    return this.leaves[0]?.items[0];
  }

  last(): E | undefined {
    if (this.solo !== null) return this.solo;
    const leaf = this.leaves[this.leaves.length - 1];
    return leaf?.items[leaf.items.length - 1];
  }

  clear(): void {
    this.leaves = [];
    this.leafKeys = [];
    this.solo = null;
    this.count = 0;
  }

  *[Symbol.iterator](): IterableIterator<E> {
    if (this.solo !== null) yield this.solo;
    for (const leaf of this.leaves) yield* leaf.items;
  }

  values(): E[] {
    if (this.solo !== null) return [this.solo];
    const out: E[] = [];
    for (const leaf of this.leaves) for (const e of leaf.items) out.push(e);
    return out;
  }
}
