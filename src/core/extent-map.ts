/**
 * Ordered map of non-overlapping extents [start, last] (inclusive), keyed by start.
 *
 * The one interval structure of the engine: type1's vfio_dma tree, iommufd's area/allowed/reserved
 * trees and every domain's translation table use it.
 *
 * Structure: a two-level sorted array (a "chunked list", B+tree of height 2). Extents live in leaves
 * of at most 256 entries, each with a Float64Array of approximate keys (`Number(start)`); a top
 * array holds each leaf's first key. Search is a binary search over leaves then inside one leaf on
 * plain doubles — no BigInt arithmetic on the hot path. Doubles round above 2^53, but rounding is
 * monotonic, so order by double is consistent with order by bigint and only equal doubles need the
 * exact bigint compare (tie-break). Costs: find O(log n); insert/remove O(log n) search plus a move
 * of at most a leaf (256 entries; leaf split/merge moves O(n / 256) leaf pointers). Memory: one
 * extent object and one double per entry.
 */

export interface Extent<T> {
  readonly start: bigint;
  readonly last: bigint;
  readonly value: T;
}

const DEFAULT_LEAF_SIZE = 256;

class Leaf<T> {
  keys: Float64Array;
  /** `Number(last)` of each entry: lets overlap checks skip the extent object unless doubles tie. */
  lasts: Float64Array;
  constructor(size: number) {
    this.keys = new Float64Array(size);
    this.lasts = new Float64Array(size);
  }
  items: Extent<T>[] = [];
  get length(): number {
    return this.items.length;
  }
}

/** Position of an extent: leaf index and index inside the leaf. */
interface Pos {
  leaf: number;
  index: number;
}

export class ExtentMap<T> {
  private leaves: Leaf<T>[] = [];
  /** First approximate key of each leaf (parallel to `leaves`). */
  private leafKeys: number[] = [];
  private count = 0;
  /** Entries per leaf before it splits (small values only make sense in tests). */
  private readonly leafSize: number;

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
    // Tie-break above 2^53: a leaf whose first key rounds equal may start after addr.
    while (li > 0 && keys[li] === x && this.leaves[li]!.items[0]!.start > addr) li--;
    return li < 0 ? 0 : li;
  }

  /** Position of the first extent with start > addr (index may equal the leaf length). */
  private upperBound(addr: bigint): Pos {
    if (this.leaves.length === 0) return { leaf: 0, index: 0 };
    const x = Number(addr);
    const li = this.leafFor(x, addr);
    const leaf = this.leaves[li]!;
    const keys = leaf.keys;
    let lo = 0;
    let hi = leaf.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid]! <= x) lo = mid + 1;
      else hi = mid;
    }
    while (lo > 0 && keys[lo - 1] === x && leaf.items[lo - 1]!.start > addr) lo--;
    return { leaf: li, index: lo };
  }

  private at(p: Pos): Extent<T> | undefined {
    return this.leaves[p.leaf]?.items[p.index];
  }

  /** The position just before p (undefined at the beginning). */
  private prev(p: Pos): Pos | undefined {
    if (p.index > 0) return { leaf: p.leaf, index: p.index - 1 };
    for (let l = p.leaf - 1; l >= 0; l--) {
      const n = this.leaves[l]!.length;
      if (n > 0) return { leaf: l, index: n - 1 };
    }
    return undefined;
  }

  /** Normalise a position past the end of its leaf to the next leaf's first entry. */
  private norm(p: Pos): Pos {
    let { leaf, index } = p;
    while (leaf < this.leaves.length && index >= this.leaves[leaf]!.length) {
      leaf++;
      index = 0;
    }
    return { leaf, index };
  }

  /** Insert an extent; the caller guarantees it overlaps nothing (checked, throws on violation). */
  insert(start: bigint, last: bigint, value: T): Extent<T> {
    if (start > last) throw new RangeError("extent start > last");
    const e: Extent<T> = { start, last, value };
    if (this.leaves.length === 0) {
      const leaf = new Leaf<T>(this.leafSize);
      leaf.items.push(e);
      leaf.keys[0] = Number(start);
      leaf.lasts[0] = Number(last);
      this.leaves.push(leaf);
      this.leafKeys.push(Number(start));
      this.count = 1;
      return e;
    }
    const p = this.upperBound(start);
    if (this.clashes(p, start, last)) {
      throw new RangeError(`extent [0x${start.toString(16)}, 0x${last.toString(16)}] overlaps`);
    }
    const leaf = this.leaves[p.leaf]!;
    const i = p.index;
    leaf.items.splice(i, 0, e);
    leaf.keys.copyWithin(i + 1, i, leaf.length - 1);
    leaf.lasts.copyWithin(i + 1, i, leaf.length - 1);
    leaf.keys[i] = Number(start);
    leaf.lasts[i] = Number(last);
    if (i === 0) this.leafKeys[p.leaf] = Number(start);
    this.count++;
    if (leaf.length === this.leafSize) this.split(p.leaf);
    return e;
  }

  /**
   * Does [start, last] overlap the extent before position p or the one at p (p = upperBound(start))?
   * Doubles decide unless they tie (rounding is monotonic: a < b as doubles implies a < b exactly).
   */
  private clashes(p: Pos, start: bigint, last: bigint): boolean {
    const before = this.prev(p);
    if (before) {
      const leaf = this.leaves[before.leaf]!;
      const prevLast = leaf.lasts[before.index]!;
      const xs = Number(start);
      if (prevLast > xs || (prevLast === xs && leaf.items[before.index]!.last >= start)) return true;
    }
    const after = this.norm(p);
    const leaf = this.leaves[after.leaf];
    if (leaf) {
      const nextStart = leaf.keys[after.index]!;
      const xl = Number(last);
      if (nextStart < xl || (nextStart === xl && leaf.items[after.index]!.start <= last)) return true;
    }
    return false;
  }

  private split(li: number): void {
    const leaf = this.leaves[li]!;
    const half = leaf.length >>> 1;
    const right = new Leaf<T>(this.leafSize);
    right.items = leaf.items.splice(half);
    right.keys.set(leaf.keys.subarray(half, half + right.items.length));
    right.lasts.set(leaf.lasts.subarray(half, half + right.items.length));
    this.leaves.splice(li + 1, 0, right);
    this.leafKeys.splice(li + 1, 0, right.keys[0]!);
  }

  private removeAt(p: Pos): Extent<T> {
    const leaf = this.leaves[p.leaf]!;
    const [e] = leaf.items.splice(p.index, 1);
    leaf.keys.copyWithin(p.index, p.index + 1, leaf.length + 1);
    leaf.lasts.copyWithin(p.index, p.index + 1, leaf.length + 1);
    this.count--;
    if (leaf.length === 0) {
      this.leaves.splice(p.leaf, 1);
      this.leafKeys.splice(p.leaf, 1);
    } else if (p.index === 0) {
      this.leafKeys[p.leaf] = leaf.keys[0]!;
    }
    return e!;
  }

  /** Remove the extent starting exactly at `start`; returns it, or undefined. */
  remove(start: bigint): Extent<T> | undefined {
    const p = this.prev(this.upperBound(start));
    if (!p) return undefined;
    const e = this.at(p);
    if (!e || e.start !== start) return undefined;
    return this.removeAt(p);
  }

  /** Replace the value of the extent at `start` (same bounds). */
  update(start: bigint, value: T): void {
    const p = this.prev(this.upperBound(start));
    const e = p && this.at(p);
    if (!p || !e || e.start !== start) throw new RangeError("no extent at that start");
    this.leaves[p.leaf]!.items[p.index] = { start: e.start, last: e.last, value };
  }

  /** The extent containing addr. */
  find(addr: bigint): Extent<T> | undefined {
    const p = this.prev(this.upperBound(addr));
    const e = p && this.at(p);
    return e && e.last >= addr ? e : undefined;
  }

  get(start: bigint): Extent<T> | undefined {
    const p = this.prev(this.upperBound(start));
    const e = p && this.at(p);
    return e && e.start === start ? e : undefined;
  }

  /** Position of the first extent that ends at or after addr. */
  private firstEndingAtOrAfter(addr: bigint): Pos {
    const ub = this.upperBound(addr);
    const p = this.prev(ub);
    const e = p && this.at(p);
    if (p && e && e.last >= addr) return p;
    return this.norm(ub);
  }

  /** Extents intersecting [start, last], ascending. */
  overlapping(start: bigint, last: bigint): Extent<T>[] {
    const out: Extent<T>[] = [];
    let { leaf, index } = this.firstEndingAtOrAfter(start);
    for (; leaf < this.leaves.length; leaf++, index = 0) {
      const items = this.leaves[leaf]!.items;
      for (; index < items.length; index++) {
        const e = items[index]!;
        if (e.start > last) return out;
        out.push(e);
      }
    }
    return out;
  }

  /** First extent intersecting [start, last], or undefined. */
  firstOverlapping(start: bigint, last: bigint): Extent<T> | undefined {
    const e = this.at(this.firstEndingAtOrAfter(start));
    return e && e.start <= last ? e : undefined;
  }

  hasOverlap(start: bigint, last: bigint): boolean {
    if (this.count === 0) return false;
    if (start > last) return false;
    return this.clashes(this.upperBound(start), start, last);
  }

  /** First extent with start ≥ addr. */
  ceiling(addr: bigint): Extent<T> | undefined {
    const ub = this.upperBound(addr);
    const p = this.prev(ub);
    const e = p && this.at(p);
    if (e && e.start === addr) return e;
    return this.at(this.norm(ub));
  }

  first(): Extent<T> | undefined {
    return this.leaves[0]?.items[0];
  }

  last(): Extent<T> | undefined {
    const leaf = this.leaves[this.leaves.length - 1];
    return leaf?.items[leaf.length - 1];
  }

  clear(): void {
    this.leaves = [];
    this.leafKeys = [];
    this.count = 0;
  }

  *[Symbol.iterator](): IterableIterator<Extent<T>> {
    for (const leaf of this.leaves) yield* leaf.items;
  }

  values(): readonly Extent<T>[] {
    const out: Extent<T>[] = [];
    for (const leaf of this.leaves) for (const e of leaf.items) out.push(e);
    return out;
  }
}
