/**
 * iopt_pages: the pinned-page store behind one user VA range (semantics.md §2.5, §2.12).
 *
 * Terms:
 *   pages      one `IoptPages` = the page-aligned user range [uptr, uptr + npages·PAGE_SIZE) of the MAP
 *              that created it. COPY shares it between areas (also across IOASes), so a page is pinned
 *              and charged once however many areas and domains use it.
 *   holder     something that needs a page range pinned: an area that is mapped into ≥ 1 domain, or
 *              an access pin. Holders are keyed by identity and hold a range of page indexes.
 *   pinned     the union of the holders' ranges. Only pinned pages are resolved to memory objects;
 *              unpinned pages are looked up in the process memory again when next pinned (the kernel
 *              re-reads the mm), while pinned ones keep their object after munmap.
 *
 * Accounting (§2.12): each newly pinned page is charged once, to the account chosen when the MAP was
 * made (none with CAP_IPC_LOCK, else the fd's mode: the user's or the mm's locked_vm), checked against
 * the mapping task's RLIMIT_MEMLOCK. Pinning is all or nothing: resolve (EFAULT), then charge (ENOMEM),
 * then publish.
 */

import { chargePages, unchargePages, type LockedAccount } from "../accounting.js";
import type { BackingSegment } from "../domain.js";
import { fail } from "../errno.js";
import { ExtentMap, type Extent } from "../extent-map.js";
import { shouldFail } from "../fault.js";
import { normalize, subtract, totalLength, type IovaRange } from "../ranges.js";
import { PAGE_SIZE, smallBigint } from "../u64.js";
import type { AddressSpace, MemoryObject, Vma } from "../../process/memory.js";

/** Who maps: the process memory and the accounts/credentials captured when the pages are created. */
export interface PinSource {
  readonly memory: AddressSpace;
  /** The real user's `user_struct->locked_vm`. */
  readonly userAccount: LockedAccount;
  /** The mapping process's `mm->locked_vm`. */
  readonly mmAccount: LockedAccount;
  readonly capIpcLock: boolean;
  /** RLIMIT_MEMLOCK in bytes. */
  readonly rlimitMemlock: bigint;
}

export type AccountMode = "none" | "user" | "mm";
export const ACCOUNT_MODES: readonly AccountMode[] = ["none", "user", "mm"];
const PAGES_WRITABLE = 1;

/**
 * One run of resolved backing: bytes [start, last] of the pages live in `object` from
 * `objectOffset`. It is its own extent entry (no `{start, last, value}` wrapper).
 */
export class BackingRun implements Extent<BackingRun> {
  readonly start: bigint;
  readonly last: bigint;
  readonly object: MemoryObject;
  readonly objectOffset: bigint;
  constructor(start: bigint, last: bigint, object: MemoryObject, objectOffset: bigint) {
    this.start = start;
    this.last = last;
    this.object = object;
    this.objectOffset = objectOffset;
  }
  get value(): BackingRun {
    return this;
  }
}

const NO_RUNS: readonly BackingRun[] = Object.freeze([]);

/** The rarely needed state of an `IoptPages` (see `IoptPages.extra`). */
interface PagesExtra {
  holderRange: IovaRange | null;
  /** The other holders and their ranges, flat: holder at 2k, its range at 2k + 1. */
  moreHolders: (object | IovaRange)[] | null;
  pinnedMulti: IovaRange[] | null;
  runs: ExtentMap<BackingRun> | null;
}

export class IoptPages {
  /** Page-aligned start of the user range. */
  readonly uptr: bigint;
  readonly npages: bigint;
  /** Created by a MAP with WRITEABLE: pinned for write, may back writeable areas. */
  get writable(): boolean {
    return (this.modeBits & PAGES_WRITABLE) !== 0;
  }
  get accountMode(): AccountMode {
    return ACCOUNT_MODES[this.modeBits >> 1]!;
  }
  /** WRITABLE in bit 0, the index of the account mode above it: one field for two (8 B each). */
  private readonly modeBits: number;
  readonly source: PinSource;
  /**
   * The holders and their page ranges. Nearly every pages has one holder (its area), kept inline in
   * `holder` (its range in `extra`, unless it is every page: an area over all the pages it made);
   * the others (COPY, access pins, area splits) are `extra.moreHolders`.
   */
  private holder: object | null = null;
  /**
   * What most pages never need, in one object made only when one of them is set (a field costs
   * 8 B on every pages): the inline holder's range when it is not all the pages, the other holders,
   * the pinned union when it is not the inline holder's range, the run map.
   */
  private extra: PagesExtra | null = null;
  /**
   * Resolved backing of pinned pages, keyed by byte offset within the pages. Nearly always one run
   * (a MAP of one VMA) covering every byte of the pages, kept inline as two fields (all the pages'
   * bytes in `runObject` from `runOffset`; no object, no bounds: they follow from `npages`); the
   * run map (`extra.runs`) exists only for a second run or a run over part of the pages, and then
   * holds every run (`runObject` is null).
   */
  private runObject: MemoryObject | null = null;
  private runOffset = 0n;

  private setExtra<K extends keyof PagesExtra>(key: K, v: PagesExtra[K]): void {
    if (v !== null) {
      (this.extra ??= { holderRange: null, moreHolders: null, pinnedMulti: null, runs: null })[key] = v;
      return;
    }
    const x = this.extra;
    if (x === null) return;
    x[key] = null;
    if (x.holderRange === null && x.moreHolders === null && x.pinnedMulti === null && x.runs === null)
      this.extra = null;
  }

  /** The inline holder's page range: every page unless `extra` says otherwise. */
  private get holderFirst(): bigint {
    const r = this.extra?.holderRange;
    return r ? r.start : 0n;
  }

  private get holderLast(): bigint {
    const r = this.extra?.holderRange;
    return r ? r.last : smallBigint(this.npages - 1n);
  }

  private setInlineRange(first: bigint, last: bigint): void {
    const all = first === 0n && last === this.npages - 1n;
    this.setExtra("holderRange", all ? null : { start: first, last });
  }

  /**
   * The holders besides the inline one (null: none), flat pairs of holder and range: a store rarely
   * has more than a few (a COPY, some access pins), and a Map cost ~170 B for one. Its scans stay
   * within the O(k log k) of the union `pin` computes anyway.
   */
  private get moreHolders(): (object | IovaRange)[] | null {
    return this.extra?.moreHolders ?? null;
  }

  private set moreHolders(v: (object | IovaRange)[] | null) {
    this.setExtra("moreHolders", v);
  }

  /** Index of `h` in `moreHolders` (its range follows), or -1. */
  private indexOfHolder(h: object): number {
    const more = this.moreHolders;
    if (more !== null) for (let i = 0; i < more.length; i += 2) if (more[i] === h) return i;
    return -1;
  }

  /**
   * Union of the holders' page-index ranges (normalised), stored only when it is not simply the
   * inline holder's range; null = `[holderRange]`, or nothing without a holder.
   */
  private get pinnedMulti(): IovaRange[] | null {
    return this.extra?.pinnedMulti ?? null;
  }

  private set pinnedMulti(v: IovaRange[] | null) {
    this.setExtra("pinnedMulti", v);
  }

  private get runs(): ExtentMap<BackingRun> | null {
    return this.extra?.runs ?? null;
  }

  private set runs(v: ExtentMap<BackingRun> | null) {
    this.setExtra("runs", v);
  }

  /** The inline run as a record (a fresh object), or null. */
  private get run(): BackingRun | null {
    const o = this.runObject;
    return o === null ? null : new BackingRun(0n, this.npages * PAGE_SIZE - 1n, o, this.runOffset);
  }

  /** Keep `r` inline (it must cover all the pages' bytes), or drop the inline run (null). */
  private setRun(r: BackingRun | null): void {
    this.runObject = r === null ? null : r.object;
    if (r !== null) this.runOffset = r.objectOffset;
  }

  private coversAllPages(r: BackingRun): boolean {
    return r.start === 0n && r.last + 1n === this.npages * PAGE_SIZE;
  }

  constructor(uptr: bigint, npages: bigint, writable: boolean, accountMode: AccountMode, source: PinSource) {
    this.uptr = uptr;
    this.npages = npages;
    this.modeBits = (writable ? PAGES_WRITABLE : 0) | (ACCOUNT_MODES.indexOf(accountMode) << 1);
    this.source = source;
  }

  private hasHolder(h: object): boolean {
    return this.holder === h || this.indexOfHolder(h) >= 0;
  }

  private setHolder(h: object, range: IovaRange): void {
    if (this.holder === null || this.holder === h) {
      this.holder = h;
      this.setInlineRange(range.start, range.last);
    } else {
      // (`h` holds nothing here yet: `pin` returns early for a holder, `rehold` makes new ones.)
      const more = this.moreHolders;
      if (more === null) this.moreHolders = [h, range];
      else more.push(h, range);
    }
  }

  private deleteHolder(h: object): boolean {
    if (this.holder === h) {
      this.holder = null;
      this.setExtra("holderRange", null);
      const more = this.moreHolders;
      if (more !== null) {
        // Promote the first of the others to the inline slot.
        const r = more[1] as IovaRange;
        this.holder = more[0]!;
        this.setInlineRange(r.start, r.last);
        more.splice(0, 2);
        if (more.length === 0) this.moreHolders = null;
      }
      return true;
    }
    const i = this.indexOfHolder(h);
    if (i < 0) return false;
    const more = this.moreHolders!;
    more.splice(i, 2);
    if (more.length === 0) this.moreHolders = null;
    return true;
  }

  /** The inline holder's range (a fresh object), or null without a holder. */
  private get holderRange(): IovaRange | null {
    return this.holder === null ? null : { start: this.holderFirst, last: this.holderLast };
  }

  private holderRanges(): IovaRange[] {
    const own = this.holderRange;
    const out: IovaRange[] = own === null ? [] : [own];
    const more = this.moreHolders;
    if (more !== null) for (let i = 1; i < more.length; i += 2) out.push(more[i] as IovaRange);
    return out;
  }

  /** Pages pinned, each charged once to the account (the size of the pinned union). */
  get pinnedPages(): bigint {
    return totalLength(this.pinnedRanges());
  }

  get pinned(): readonly IovaRange[] {
    return this.pinnedRanges();
  }

  private pinnedRanges(): IovaRange[] {
    if (this.pinnedMulti !== null) return this.pinnedMulti;
    const own = this.holderRange;
    return own === null ? [] : [own];
  }

  /**
   * Record the new pinned union, kept only when it is not the inline holder's range (other holders
   * inside that range, as a COPY of a whole area is, add nothing to it).
   */
  private setPinned(next: IovaRange[]): void {
    const single =
      next.length === 0
        ? this.holder === null
        : next.length === 1 &&
          this.holder !== null &&
          next[0]!.start === this.holderFirst &&
          next[0]!.last === this.holderLast;
    this.pinnedMulti = single ? null : next;
  }

  /** Page-index range covering bytes [startByte, startByte + length) of the pages. */
  static pageRange(startByte: bigint, length: bigint): IovaRange {
    return {
      start: smallBigint(startByte / PAGE_SIZE),
      last: smallBigint((startByte + length - 1n) / PAGE_SIZE),
    };
  }

  private addRun(r: BackingRun): void {
    if (this.runs === null && this.runObject === null && this.coversAllPages(r)) {
      this.setRun(r);
      return;
    }
    if (this.runs === null) {
      this.runs = new ExtentMap<BackingRun>();
      const inline = this.run;
      if (inline !== null) this.runs.insertExtent(inline);
      this.setRun(null);
    }
    if (!this.runs.insertExtent(r)) throw new Error("iopt_pages: backing runs overlap (engine bug)");
  }

  /** Runs intersecting bytes [start, last], ascending. */
  private runsOverlapping(start: bigint, last: bigint): readonly BackingRun[] {
    if (this.runs !== null) return this.runs.overlapping(start, last).map((e) => e.value);
    const r = this.run;
    return r !== null && r.start <= last && start <= r.last ? [r] : NO_RUNS;
  }

  private removeRun(r: BackingRun): void {
    if (this.runs !== null) this.runs.removeEntry(r);
    else if (this.runObject !== null && r.start === 0n) this.setRun(null);
  }

  private account(): LockedAccount | undefined {
    return lockedAccountOf(this.accountMode, this.source);
  }

  /**
   * Pin `range` (page indexes) for `holder`: resolve the pages nobody pinned yet (EFAULT), charge them
   * (ENOMEM), then publish. A holder pins one range at a time (an already-held holder is a no-op).
   */
  pin(holder: object, range: IovaRange, op: string): void {
    if (this.hasHolder(holder)) return;
    if (shouldFail("pages.pin")) fail("ENOMEM", op, "injected: pin allocation");
    // (No holder means no other holder either: deleteHolder refills the inline slot first.)
    const next = this.holder === null ? [range] : normalize([...this.holderRanges(), range]);
    // Nothing pinned yet (the first holder, nearly always): all of `range` is new.
    const before = this.pinnedRanges();
    const fresh = before.length === 0;
    const added = fresh ? next : subtract(next, before);
    const delta = fresh ? totalLength(next) : totalLength(next) - totalLength(before);
    const resolved = resolveAndCharge(
      this.source,
      this.uptr,
      this.writable,
      this.accountMode,
      added,
      delta,
      op,
    );
    this.publish(holder, range, resolved, next);
  }

  /** The infallible half of pinning: keep the runs, the holder, and the new pinned union. */
  private publish(holder: object, range: IovaRange, runs: readonly BackingRun[], pinned: IovaRange[]): void {
    for (const r of runs) this.addRun(r);
    this.setHolder(holder, range);
    this.setPinned(pinned);
  }

  /**
   * Make `holder` the first holder of `range` with backing `runs` already resolved and charged (by
   * `pinUserPages`): a store that was kept inline in its area's row until it had to be shared.
   */
  adoptPin(holder: object, range: IovaRange, runs: readonly BackingRun[]): void {
    if (this.holder !== null) throw new Error("iopt_pages: adopting into a held store (engine bug)");
    this.publish(holder, range, runs, [range]);
  }

  /** Drop `holder`'s pin; pages nobody else holds are unpinned and uncharged. Never fails. */
  unpin(holder: object): void {
    const before = this.pinnedRanges();
    if (!this.deleteHolder(holder)) return;
    const own = this.holderRange;
    const next = own === null ? [] : this.moreHolders === null ? [own] : normalize(this.holderRanges());
    const released = next.length === 0 ? before : subtract(before, next);
    this.setPinned(next);
    this.release(released);
  }

  /** Move a holder's pin to new holders without changing the pinned set (area split). */
  rehold(from: object, to: readonly { holder: object; range: IovaRange }[]): void {
    const pinned = this.pinnedRanges();
    if (!this.deleteHolder(from)) return;
    for (const t of to) this.setHolder(t.holder, t.range);
    this.setPinned(pinned);
  }

  holds(holder: object): boolean {
    return this.hasHolder(holder);
  }

  private release(ranges: readonly IovaRange[]): void {
    let pages = 0n;
    for (const r of ranges) {
      const start = r.start * PAGE_SIZE;
      const last = (r.last + 1n) * PAGE_SIZE - 1n;
      for (const e of this.runsOverlapping(start, last)) {
        this.removeRun(e);
        if (e.start < start) this.addRun(new BackingRun(e.start, start - 1n, e.object, e.objectOffset));
        if (e.last > last)
          this.addRun(new BackingRun(last + 1n, e.last, e.object, e.objectOffset + (last + 1n - e.start)));
      }
      pages += r.last - r.start + 1n;
    }
    if (pages === 0n) return;
    const account = this.account();
    if (account) unchargePages(account, pages);
  }

  /** The run holding byte `at` of the pages (it must be pinned). */
  backingAt(at: bigint): BackingRun {
    const r = this.runs !== null ? this.runs.find(at)?.value : this.run;
    if (r === undefined || r === null || r.start > at || r.last < at)
      throw new Error("iopt_pages: reading an unpinned page (engine bug)");
    return r;
  }

  /** Backing of bytes [startByte, startByte + length) — every byte must be pinned. */
  segments(startByte: bigint, length: bigint): BackingSegment[] {
    const out: BackingSegment[] = [];
    const last = startByte + length - 1n;
    let cur = startByte;
    for (const e of this.runsOverlapping(startByte, last)) {
      if (e.start > cur) throw new Error("iopt_pages: reading unpinned pages (engine bug)");
      const segLast = e.last < last ? e.last : last;
      out.push({
        object: e.object,
        objectOffset: cur === e.start ? e.objectOffset : e.objectOffset + (cur - e.start),
        length: segLast - cur + 1n,
      });
      cur = segLast + 1n;
    }
    if (cur <= last) throw new Error("iopt_pages: reading unpinned pages (engine bug)");
    return out;
  }

  /**
   * Backing of bytes for an access read/write: pinned pages from the store, the rest looked up in the
   * process memory now (the kernel's slow path pins them briefly). EFAULT when unreachable.
   */
  lookup(startByte: bigint, length: bigint, write: boolean, op: string): BackingSegment[] {
    const first = startByte / PAGE_SIZE;
    const lastPage = (startByte + length - 1n) / PAGE_SIZE;
    const covered = this.pinnedRanges().some((r) => r.start <= first && lastPage <= r.last);
    if (covered) return this.segments(startByte, length);
    return this.source.memory
      .resolve(this.uptr + startByte, length, write, op)
      .map((s) => ({ object: s.object, objectOffset: s.objectOffset, length: s.length }));
  }
}

/** The account pages of `mode` are charged to: none with CAP_IPC_LOCK, the user's, or the mm's. */
export function lockedAccountOf(mode: AccountMode, source: PinSource): LockedAccount | undefined {
  if (mode === "user") return source.userAccount;
  if (mode === "mm") return source.mmAccount;
  return undefined;
}

/** What a user range is pinned with: its start, write access, account mode and source. */
export interface PinTarget {
  readonly uptr: bigint;
  readonly writable: boolean;
  readonly accountMode: AccountMode;
  readonly source: PinSource;
}

/**
 * The fallible half of pinning: resolve the page ranges `added` of the user range at `uptr`
 * (EFAULT), then charge `delta` pages (ENOMEM). Nothing is kept on failure; the caller publishes
 * the runs. (Plain arguments, not a `PinTarget`: the inline path would allocate one per pin.)
 */
function resolveAndCharge(
  source: PinSource,
  uptr: bigint,
  writable: boolean,
  mode: AccountMode,
  added: readonly IovaRange[],
  delta: bigint,
  op: string,
): BackingRun[] {
  let resolved: BackingRun[] | null = null;
  for (const r of added) {
    let off = smallBigint(r.start * PAGE_SIZE);
    const segs = source.memory.resolve(uptr + off, (r.last - r.start + 1n) * PAGE_SIZE, writable, op);
    for (const s of segs) {
      const run = new BackingRun(off, off + s.length - 1n, s.object, s.objectOffset);
      // An array literal, not push() onto []: a pushed-to empty array reserves 17 slots.
      if (resolved === null) resolved = [run];
      else resolved.push(run);
      off += s.length;
    }
  }
  chargeStore(source, mode, delta, op);
  return resolved ?? [];
}

/** Charge `delta` newly pinned pages to the store's account (ENOMEM over RLIMIT_MEMLOCK). */
function chargeStore(source: PinSource, mode: AccountMode, delta: bigint, op: string): void {
  const account = lockedAccountOf(mode, source);
  if (account && delta > 0n) {
    if (shouldFail("pages.account")) fail("ENOMEM", op, "injected: locked_vm charge");
    chargePages(op, account, delta, source, true);
  }
}

/**
 * Pin every one of `npages` pages from `uptr` for a store nobody holds yet, kept outside an
 * `IoptPages` (an area's own row): the same steps and failures as its first `IoptPages.pin`.
 * Returns the backing: the one VMA holding every page (nearly always: no run list is made), or the
 * runs over several VMAs.
 */
export function pinUserPages(
  source: PinSource,
  uptr: bigint,
  writable: boolean,
  mode: AccountMode,
  npages: bigint,
  op: string,
): Vma | BackingRun[] {
  if (shouldFail("pages.pin")) fail("ENOMEM", op, "injected: pin allocation");
  const vma = source.memory.vmaHolding(uptr, npages * PAGE_SIZE, writable);
  if (vma === undefined)
    return resolveAndCharge(source, uptr, writable, mode, [{ start: 0n, last: npages - 1n }], npages, op);
  chargeStore(source, mode, npages, op);
  return vma;
}

/** Unpin every page of such a store: uncharge them. Never fails. */
export function unpinUserPages(source: PinSource, mode: AccountMode, npages: bigint): void {
  const account = lockedAccountOf(mode, source);
  if (account) unchargePages(account, npages);
}
