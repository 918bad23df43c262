/**
 * Ordered map of non-overlapping extents [start, last] (inclusive), keyed by start.
 *
 * The one interval structure of the engine: type1's vfio_dma tree, iommufd's area/allowed/reserved
 * trees and every domain's translation table use it. Lookups are binary searches (O(log n)); inserts
 * and removals shift a sorted array (O(n) moves of pointers, fast in practice up to ~10^5 live
 * extents). The performance work may swap the internals for a B+tree; the API stays.
 */

export interface Extent<T> {
  readonly start: bigint;
  readonly last: bigint;
  readonly value: T;
}

export class ExtentMap<T> {
  private starts: bigint[] = [];
  private items: Extent<T>[] = [];

  get size(): number {
    return this.items.length;
  }

  /** Index of the first extent whose start is > addr. */
  private upperBound(addr: bigint): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid]! <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Insert an extent; the caller guarantees it overlaps nothing (checked, throws on violation). */
  insert(start: bigint, last: bigint, value: T): Extent<T> {
    if (start > last) throw new RangeError("extent start > last");
    const i = this.upperBound(start);
    const prev = this.items[i - 1];
    const next = this.items[i];
    if ((prev && prev.last >= start) || (next && next.start <= last)) {
      throw new RangeError(`extent [0x${start.toString(16)}, 0x${last.toString(16)}] overlaps`);
    }
    const e: Extent<T> = { start, last, value };
    this.starts.splice(i, 0, start);
    this.items.splice(i, 0, e);
    return e;
  }

  /** Remove the extent starting exactly at `start`; returns it, or undefined. */
  remove(start: bigint): Extent<T> | undefined {
    const i = this.upperBound(start) - 1;
    const e = this.items[i];
    if (!e || e.start !== start) return undefined;
    this.starts.splice(i, 1);
    this.items.splice(i, 1);
    return e;
  }

  /** Replace the value of the extent at `start` (same bounds). */
  update(start: bigint, value: T): void {
    const i = this.upperBound(start) - 1;
    const e = this.items[i];
    if (!e || e.start !== start) throw new RangeError("no extent at that start");
    this.items[i] = { start: e.start, last: e.last, value };
  }

  /** The extent containing addr. */
  find(addr: bigint): Extent<T> | undefined {
    const e = this.items[this.upperBound(addr) - 1];
    return e && e.last >= addr ? e : undefined;
  }

  get(start: bigint): Extent<T> | undefined {
    const e = this.items[this.upperBound(start) - 1];
    return e && e.start === start ? e : undefined;
  }

  /** Extents intersecting [start, last], ascending. */
  overlapping(start: bigint, last: bigint): Extent<T>[] {
    const out: Extent<T>[] = [];
    let i = this.upperBound(start) - 1;
    if (i < 0 || this.items[i]!.last < start) i++;
    for (; i < this.items.length; i++) {
      const e = this.items[i]!;
      if (e.start > last) break;
      out.push(e);
    }
    return out;
  }

  /** First extent intersecting [start, last], or undefined. */
  firstOverlapping(start: bigint, last: bigint): Extent<T> | undefined {
    let i = this.upperBound(start) - 1;
    if (i < 0 || this.items[i]!.last < start) i++;
    const e = this.items[i];
    return e && e.start <= last ? e : undefined;
  }

  hasOverlap(start: bigint, last: bigint): boolean {
    return this.firstOverlapping(start, last) !== undefined;
  }

  /** First extent with start ≥ addr. */
  ceiling(addr: bigint): Extent<T> | undefined {
    let i = this.upperBound(addr) - 1;
    if (i < 0 || this.items[i]!.start < addr) i++;
    return this.items[i];
  }

  first(): Extent<T> | undefined {
    return this.items[0];
  }

  last(): Extent<T> | undefined {
    return this.items[this.items.length - 1];
  }

  clear(): void {
    this.starts = [];
    this.items = [];
  }

  [Symbol.iterator](): IterableIterator<Extent<T>> {
    return this.items.values();
  }

  values(): readonly Extent<T>[] {
    return this.items;
  }
}
