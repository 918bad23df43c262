/**
 * Ordered map of non-overlapping extents [start, last] (inclusive) to values, keyed by start: an
 * `ExtentIndex` whose entries are extent objects — either a `{ start, last, value }` wrapper made by
 * `insert`, or a caller's record that is its own extent (`insertExtent`: a domain translation, an
 * iommufd area). See extent-index.ts for the structure and its costs.
 */

import { ExtentIndex } from "./extent-index.js";

export interface Extent<T> {
  readonly start: bigint;
  readonly last: bigint;
  readonly value: T;
}

export class ExtentMap<T> extends ExtentIndex<Extent<T>> {
  protected startOf(e: Extent<T>): bigint {
    return e.start;
  }

  protected lastOf(e: Extent<T>): bigint {
    return e.last;
  }

  /** Insert an extent; the caller guarantees it overlaps nothing (checked, throws on violation). */
  insert(start: bigint, last: bigint, value: T): Extent<T> {
    const e = this.tryInsert(start, last, value);
    if (e === undefined) {
      throw new RangeError(`extent [0x${start.toString(16)}, 0x${last.toString(16)}] overlaps`);
    }
    return e;
  }

  /** Insert an extent unless it overlaps one already there (then undefined, nothing changed). */
  tryInsert(start: bigint, last: bigint, value: T): Extent<T> | undefined {
    const e: Extent<T> = { start, last, value };
    return this.placeEntry(e, start, last) ? e : undefined;
  }

  /**
   * Insert `e` itself (no wrapper object) unless it overlaps an extent already there (then false,
   * nothing changed). For callers whose records already carry `start`/`last` and can be their own
   * `value` (a domain translation, an iommufd area): one object per entry instead of two. `e.start`
   * and `e.last` must not change while it is in the map.
   */
  insertExtent(e: Extent<T>): boolean {
    return this.placeEntry(e, e.start, e.last);
  }
}
