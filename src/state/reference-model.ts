/**
 * A deliberately simple reference model of the mapping rules, for differential tests against the
 * engine: plain arrays of mappings, linear scans, no interval structures, no cleverness. It knows
 * only what the rules say (semantics.md §2.5–§2.11, type1's vfio_dma_do_map/unmap), not how the
 * engine implements them.
 *
 * Ranges are [iova, last] inclusive; results are `{ errno }` (null = success) plus the returned value.
 */

export type ModelErrno = "EINVAL" | "EEXIST" | "ENOENT" | "EADDRINUSE" | null;

export interface Mapping {
  readonly iova: bigint;
  readonly last: bigint;
}

export interface Range {
  readonly start: bigint;
  readonly last: bigint;
}

const ULONG_MAX = (1n << 64n) - 1n;

function meets(a: Range, start: bigint, last: bigint): boolean {
  return a.start <= last && start <= a.last;
}

function sorted(list: Mapping[]): Mapping[] {
  return [...list].sort((a, b) => (a.iova < b.iova ? -1 : a.iova > b.iova ? 1 : 0));
}

/** One iommufd IOAS: areas, allowed ranges, reserved ranges, alignment. */
export class ModelIoas {
  areas: Mapping[] = [];
  allowed: Range[] = [];

  constructor(
    readonly reserved: readonly Range[],
    readonly alignment: bigint,
  ) {}

  /** MAP / the destination half of COPY with a fixed IOVA: one new area per run. */
  mapFixed(iova: bigint, runs: readonly bigint[]): { errno: ModelErrno } {
    const length = runs.reduce((a, b) => a + b, 0n);
    if (length === 0n || length % this.alignment !== 0n) return { errno: "EINVAL" };
    if (iova % this.alignment !== 0n) return { errno: "EINVAL" };
    const last = iova + length - 1n;
    // iommufd checks reserved ranges before existing areas.
    if (this.reserved.some((r) => meets(r, iova, last))) return { errno: "EINVAL" };
    if (this.areas.some((a) => a.iova <= last && iova <= a.last)) return { errno: "EEXIST" };
    let cur = iova;
    for (const n of runs) {
      this.areas.push({ iova: cur, last: cur + n - 1n });
      cur += n;
    }
    return { errno: null };
  }

  /** Would an automatically chosen IOVA be legal? (The allocator's choice itself is not modelled.) */
  autoIovaIsLegal(iova: bigint, length: bigint): boolean {
    const last = iova + length - 1n;
    if (iova % this.alignment !== 0n || last > ULONG_MAX) return false;
    if (this.reserved.some((r) => meets(r, iova, last))) return false;
    if (this.areas.some((a) => a.iova <= last && iova <= a.last)) return false;
    if (this.allowed.length > 0 && !this.allowed.some((r) => r.start <= iova && last <= r.last)) return false;
    return true;
  }

  /**
   * UNMAP [iova, iova + length): the areas inside are removed in ascending order; an area crossing
   * a bound stops the walk with ENOENT and what was removed before stays removed; nothing removed is
   * ENOENT. (0, U64_MAX) removes everything and succeeds even when empty.
   */
  unmap(iova: bigint, length: bigint): { errno: ModelErrno; unmapped: bigint } {
    if (iova === 0n && length === ULONG_MAX) {
      const unmapped = this.areas.reduce((s, a) => s + (a.last - a.iova + 1n), 0n);
      this.areas = [];
      return { errno: null, unmapped };
    }
    if (length === 0n) return { errno: "EINVAL", unmapped: 0n };
    const last = iova + length - 1n;
    let unmapped = 0n;
    for (const a of sorted(this.areas)) {
      if (a.last < iova || a.iova > last) continue;
      if (a.iova < iova || a.last > last) return { errno: "ENOENT", unmapped };
      this.areas = this.areas.filter((x) => x !== a);
      unmapped += a.last - a.iova + 1n;
    }
    return unmapped === 0n ? { errno: "ENOENT", unmapped } : { errno: null, unmapped };
  }

  /** The runs (lengths) COPY takes from [iova, iova + length): ENOENT on any hole. */
  copyRuns(iova: bigint, length: bigint): { errno: ModelErrno; runs: bigint[] } {
    if (length === 0n) return { errno: "EINVAL", runs: [] };
    const last = iova + length - 1n;
    const runs: bigint[] = [];
    let cur = iova;
    for (const a of sorted(this.areas)) {
      if (a.last < cur || a.iova > last) continue;
      if (a.iova > cur) return { errno: "ENOENT", runs: [] };
      const runLast = a.last < last ? a.last : last;
      runs.push(runLast - cur + 1n);
      if (runLast === last) return { errno: null, runs };
      cur = runLast + 1n;
    }
    return { errno: "ENOENT", runs: [] };
  }

  /** ALLOW_IOVAS: start < last, no overlaps (EINVAL), none meeting a reservation (EADDRINUSE). */
  allow(ranges: readonly Range[]): { errno: ModelErrno } {
    for (let i = 0; i < ranges.length; i++) {
      const r = ranges[i]!;
      if (r.start >= r.last) return { errno: "EINVAL" };
      for (let j = 0; j < i; j++) if (meets(ranges[j]!, r.start, r.last)) return { errno: "EINVAL" };
    }
    for (const r of ranges)
      if (this.reserved.some((x) => meets(x, r.start, r.last))) return { errno: "EADDRINUSE" };
    this.allowed = [...ranges];
    return { errno: null };
  }

  /** IOVA_RANGES: the holes of the reserved ranges in [0, ULONG_MAX]. */
  iovaRanges(): Range[] {
    const out: Range[] = [];
    let cur = 0n;
    const res = [...this.reserved].sort((a, b) => (a.start < b.start ? -1 : 1));
    for (const r of res) {
      if (r.start > cur) out.push({ start: cur, last: r.start - 1n });
      if (r.last === ULONG_MAX) return out;
      if (r.last + 1n > cur) cur = r.last + 1n;
    }
    out.push({ start: cur, last: ULONG_MAX });
    return out;
  }

  list(): Mapping[] {
    return sorted(this.areas);
  }
}

/** A type1 container's vfio_dma list (v1 or v2 unmap semantics). */
export class ModelType1 {
  dmas: Mapping[] = [];

  constructor(
    readonly v2: boolean,
    /** IOVA ranges outside the usable list (reserved regions, beyond the aperture). */
    readonly reserved: readonly Range[],
    readonly pageSize: bigint,
  ) {}

  /** MAP_DMA: alignment and size (EINVAL), overlap (EEXIST) before the usable-range check (EINVAL). */
  map(iova: bigint, size: bigint): { errno: ModelErrno } {
    if (size === 0n || size % this.pageSize !== 0n || iova % this.pageSize !== 0n) return { errno: "EINVAL" };
    const last = iova + size - 1n;
    if (this.dmas.some((d) => d.iova <= last && iova <= d.last)) return { errno: "EEXIST" };
    if (this.reserved.some((r) => meets(r, iova, last))) return { errno: "EINVAL" };
    this.dmas.push({ iova, last });
    return { errno: null };
  }

  /**
   * UNMAP_DMA. v2: a mapping bisected by either bound is EINVAL; every mapping inside goes. v1: if
   * the first mapping met starts before `iova`, nothing is unmapped (success, 0); otherwise every
   * mapping starting inside the range goes, whole, even past the end.
   */
  unmap(iova: bigint, size: bigint): { errno: ModelErrno; unmapped: bigint } {
    if (size === 0n || size % this.pageSize !== 0n || iova % this.pageSize !== 0n)
      return { errno: "EINVAL", unmapped: 0n };
    const last = iova + size - 1n;
    if (this.v2) {
      const atStart = this.dmas.find((d) => d.iova <= iova && iova <= d.last);
      if (atStart && atStart.iova !== iova) return { errno: "EINVAL", unmapped: 0n };
      const atEnd = this.dmas.find((d) => d.iova <= last && last <= d.last);
      if (atEnd && atEnd.last !== last) return { errno: "EINVAL", unmapped: 0n };
    }
    let unmapped = 0n;
    for (const d of sorted(this.dmas)) {
      if (d.last < iova || d.iova > last) continue;
      if (!this.v2 && d.iova < iova) break;
      this.dmas = this.dmas.filter((x) => x !== d);
      unmapped += d.last - d.iova + 1n;
    }
    return { errno: null, unmapped };
  }

  list(): Mapping[] {
    return sorted(this.dmas);
  }
}
