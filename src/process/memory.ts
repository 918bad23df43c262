/**
 * A simulated process address space.
 *
 * Terms: a *VMA* is one mapping [start, last] with a protection, backed by a slice of a *memory
 * object* (anonymous memory). Memory objects hold bytes sparsely: a page exists only once it is
 * written; unwritten pages read as the object's fill byte. So mapping 1 TiB costs one VMA and one
 * object, nothing per page.
 *
 * Pinning (VFIO/iommufd) takes references to memory objects, not to VMAs: after munmap, mprotect or a
 * MAP_FIXED replacement the pinned object stays alive and keeps its bytes, while the process sees the
 * new mapping — exactly the kernel's "pinned pages outlive the VMA" behaviour.
 */

import { fail } from "../core/errno.js";
import { PAGE_SIZE, U64_MAX } from "../core/u64.js";

export type Prot = "rw" | "r" | "w" | "none";

const PAGE = Number(PAGE_SIZE);
/** Object offsets below this (less a page-sized copy) are exact as doubles. */
const MAX_EXACT = 1n << 52n;
/** Pieces up to this many bytes are copied by a loop (a typed-array view per piece costs more). */
const SMALL_COPY = 64;

export function protAllowsRead(p: Prot): boolean {
  // x86 and arm64 user mappings: PROT_WRITE implies readable; only PROT_NONE faults on read.
  return p !== "none";
}

export function protAllowsWrite(p: Prot): boolean {
  return p === "rw" || p === "w";
}

/** A pin or copy of this VMA's pages is allowed: readable, and writable too when `write`. */
export function protAllowsPin(p: Prot, write: boolean): boolean {
  return protAllowsRead(p) && (!write || protAllowsWrite(p));
}

let nextObjectId = 1;

/** After restoring a saved state: new memory objects get ids above `id`. */
export function reserveMemoryObjectIds(id: number): void {
  if (id >= nextObjectId) nextObjectId = id + 1;
}

/** Anonymous memory: a sparse page store with a fill byte for untouched pages. */
export class MemoryObject {
  readonly id: number;
  readonly fill: number;
  /** Size in bytes (fixed at creation). */
  readonly size: bigint;
  private readonly pages = new Map<number, Uint8Array>();

  constructor(size: bigint, fill = 0) {
    this.id = nextObjectId++;
    this.size = size;
    this.fill = fill & 0xff;
  }

  /** Number of pages that hold their own bytes (for tests and memory accounting). */
  get touchedPages(): number {
    return this.pages.size;
  }

  /**
   * Visit the page pieces of bytes [offset, offset + length): page index, offset in the page, piece
   * length, bytes before it. Offsets below 2^52 (all but objects near the top of the u64 space) are
   * exact as doubles: page arithmetic on numbers, no BigInt per page.
   */
  private forEachPiece(
    offset: bigint,
    length: number,
    visit: (pageIndex: number, inPage: number, n: number, done: number) => void,
  ): void {
    let off = offset < MAX_EXACT ? Number(offset) : -1;
    let big = offset;
    let done = 0;
    while (done < length) {
      let pageIndex: number;
      let inPage: number;
      if (off >= 0) {
        pageIndex = Math.floor(off / PAGE);
        inPage = off - pageIndex * PAGE;
      } else {
        pageIndex = Number(big / PAGE_SIZE);
        inPage = Number(big % PAGE_SIZE);
      }
      const n = Math.min(PAGE - inPage, length - done);
      visit(pageIndex, inPage, n, done);
      done += n;
      if (off >= 0) off += n;
      else big += BigInt(n);
    }
  }

  /**
   * Offset in its page of byte `offset` when the `length` bytes from it lie in one page and the
   * offset is exact as a double (every struct an ioctl copies), else -1. The read/write fast paths
   * use it to skip `forEachPiece` and its closure.
   */
  private onePage(offset: bigint, length: number): number {
    if (offset >= MAX_EXACT) return -1;
    const off = Number(offset);
    const inPage = off % PAGE;
    return inPage + length <= PAGE ? inPage : -1;
  }

  read(offset: bigint, length: number, into?: Uint8Array, intoOffset = 0): Uint8Array {
    const out = into ?? new Uint8Array(length);
    const inPage = this.onePage(offset, length);
    if (inPage >= 0) {
      this.readPiece(Math.floor(Number(offset) / PAGE), inPage, length, out, intoOffset);
      return out;
    }
    this.forEachPiece(offset, length, (pageIndex, inPage, n, done) =>
      this.readPiece(pageIndex, inPage, n, out, intoOffset + done),
    );
    return out;
  }

  /** Copy `n` bytes of page `pageIndex` from `inPage` into `out` at `at` (the fill byte if untouched). */
  private readPiece(pageIndex: number, inPage: number, n: number, out: Uint8Array, at: number): void {
    const page = this.pages.get(pageIndex);
    if (page === undefined) out.fill(this.fill, at, at + n);
    else if (n <= SMALL_COPY) {
      // A struct-sized piece: a loop, not a subarray view object per piece.
      for (let k = 0; k < n; k++) out[at + k] = page[inPage + k]!;
    } else out.set(page.subarray(inPage, inPage + n), at);
  }

  write(offset: bigint, data: Uint8Array): void {
    const inPage = this.onePage(offset, data.length);
    if (inPage >= 0) {
      this.pageToWrite(Math.floor(Number(offset) / PAGE)).set(data, inPage);
      return;
    }
    this.forEachPiece(offset, data.length, (pageIndex, inPage, n, done) => {
      this.pageToWrite(pageIndex).set(n === data.length ? data : data.subarray(done, done + n), inPage);
    });
  }

  /** The bytes of page `pageIndex`, made (from the fill byte) at its first write. */
  private pageToWrite(pageIndex: number): Uint8Array {
    let page = this.pages.get(pageIndex);
    if (!page) {
      page = new Uint8Array(PAGE);
      if (this.fill !== 0) page.fill(this.fill);
      this.pages.set(pageIndex, page);
    }
    return page;
  }

  /** Snapshot of the touched pages (page index → bytes), for state dumps. */
  touched(): ReadonlyMap<number, Uint8Array> {
    return this.pages;
  }
}

export interface Vma {
  readonly start: bigint;
  readonly last: bigint;
  readonly prot: Prot;
  readonly object: MemoryObject;
  /** Offset of `start` inside `object`. */
  readonly objectOffset: bigint;
  readonly shared: boolean;
  /** Free-form label ("arena", "scratch") for dumps. */
  readonly label?: string;
}

/** A piece of process memory resolved to its backing: what a pin holds on to. */
export interface MemorySegment {
  readonly object: MemoryObject;
  readonly objectOffset: bigint;
  readonly length: bigint;
  readonly prot: Prot;
}

export interface MmapOptions {
  /** Byte every page reads as until written (default 0). */
  readonly fill?: number;
  readonly shared?: boolean;
  /** MAP_FIXED_NOREPLACE: fail with EEXIST instead of replacing an existing mapping. */
  readonly noReplace?: boolean;
  readonly label?: string;
}

function checkPageRange(op: string, addr: bigint, length: bigint): bigint {
  if (addr % PAGE_SIZE !== 0n) fail("EINVAL", op, "address not page aligned");
  if (length === 0n) fail("EINVAL", op, "length 0");
  const rounded = ((length + PAGE_SIZE - 1n) / PAGE_SIZE) * PAGE_SIZE;
  if (addr + rounded - 1n > U64_MAX) fail("ENOMEM", op, "range wraps");
  return addr + rounded - 1n;
}

export class AddressSpace {
  /** Sorted by start, non-overlapping. */
  private vmas: Vma[] = [];

  list(): readonly Vma[] {
    return this.vmas;
  }

  /** mmap(MAP_FIXED | MAP_ANONYMOUS): replaces whatever was mapped in the range. */
  mmap(addr: bigint, length: bigint, prot: Prot, opts: MmapOptions = {}): void {
    const last = checkPageRange("mmap", addr, length);
    if (opts.noReplace && this.vmas.some((v) => v.start <= last && addr <= v.last)) {
      fail("EEXIST", "mmap", "MAP_FIXED_NOREPLACE over an existing mapping");
    }
    this.unmapRange(addr, last);
    const vma: Vma = {
      start: addr,
      last,
      prot,
      object: new MemoryObject(last - addr + 1n, opts.fill ?? 0),
      objectOffset: 0n,
      shared: opts.shared ?? false,
      ...(opts.label !== undefined ? { label: opts.label } : {}),
    };
    this.insert(vma);
  }

  munmap(addr: bigint, length: bigint): void {
    const last = checkPageRange("munmap", addr, length);
    this.unmapRange(addr, last);
  }

  /**
   * mprotect, as Linux applies it: VMA by VMA from `addr`. A hole at the start is ENOMEM with nothing
   * changed; a hole further on is ENOMEM too, but the mappings before it keep the new protection
   * (the recorded traces depend on this; FORMAT.md's "nothing changes" holds only for a leading hole).
   */
  mprotect(addr: bigint, length: bigint, prot: Prot): void {
    const last = checkPageRange("mprotect", addr, length);
    if (!this.find(addr)) fail("ENOMEM", "mprotect", "range not mapped");
    let runLast = addr - 1n;
    while (runLast < last) {
      const v = this.find(runLast + 1n);
      if (!v) break;
      runLast = v.last < last ? v.last : last;
    }
    for (const v of this.carve(addr, runLast)) this.insert({ ...v, prot });
    if (runLast < last) fail("ENOMEM", "mprotect", "range not fully mapped");
  }

  /** The VMA containing `addr`, if any. */
  find(addr: bigint): Vma | undefined {
    let lo = 0;
    let hi = this.vmas.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.vmas[mid]!;
      if (addr < v.start) hi = mid - 1;
      else if (addr > v.last) lo = mid + 1;
      else return v;
    }
    return undefined;
  }

  /**
   * Resolve [addr, addr+length) to backing segments, as get_user_pages does. EFAULT when any byte is
   * unmapped, PROT_NONE, or not writable while `write` is asked.
   */
  resolve(addr: bigint, length: bigint, write: boolean, op = "pin"): MemorySegment[] {
    if (length === 0n) return [];
    const last = addr + length - 1n;
    if (last > U64_MAX) fail("EFAULT", op, "address range wraps");
    let out: MemorySegment[] | null = null;
    let cur = addr;
    while (cur <= last) {
      const v = this.find(cur);
      if (!v) fail("EFAULT", op, `address 0x${cur.toString(16)} is not mapped`);
      if (!protAllowsPin(v.prot, write)) {
        fail("EFAULT", op, `address 0x${cur.toString(16)} is not ${write ? "writable" : "accessible"}`);
      }
      const segLast = v.last < last ? v.last : last;
      const seg = {
        object: v.object,
        objectOffset: v.objectOffset + (cur - v.start),
        length: segLast - cur + 1n,
        prot: v.prot,
      };
      // An array literal, not push() onto []: a pushed-to empty array reserves 17 slots.
      if (out === null) out = [seg];
      else out.push(seg);
      if (segLast === U64_MAX) break;
      cur = segLast + 1n;
    }
    return out ?? [];
  }

  /**
   * The one VMA holding all of [addr, addr + length) (length > 0) with the access asked, or
   * undefined — several VMAs, or a byte `resolve` would refuse. The fast path of pinning and of
   * user copies: no segment list.
   */
  vmaHolding(addr: bigint, length: bigint, write: boolean): Vma | undefined {
    const v = this.find(addr);
    if (v === undefined || !protAllowsPin(v.prot, write)) return undefined;
    return v.last - addr >= length - 1n ? v : undefined;
  }

  /** copy_from_user: EFAULT on any inaccessible byte. */
  read(addr: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.readInto(addr, length, out, 0);
    return out;
  }

  /**
   * `read` into `into` from `intoOffset` (a kernel buffer the caller already has: no copy of a
   * copy). Every byte is checked before any is copied, so `into` is untouched on EFAULT.
   */
  readInto(addr: bigint, length: number, into: Uint8Array, intoOffset = 0): void {
    // One readable VMA holding the whole range (every struct an ioctl reads): no segment list.
    const v = length > 0 ? this.vmaHolding(addr, BigInt(length), false) : undefined;
    if (v !== undefined) {
      v.object.read(v.objectOffset + (addr - v.start), length, into, intoOffset);
      return;
    }
    let pos = intoOffset;
    for (const s of this.resolve(addr, BigInt(length), false, "copy_from_user")) {
      s.object.read(s.objectOffset, Number(s.length), into, pos);
      pos += Number(s.length);
    }
  }

  /** copy_to_user: EFAULT on any byte that is not writable; nothing is written then. */
  write(addr: bigint, data: Uint8Array): void {
    // One writable VMA holding the whole range (every struct an ioctl writes back): no segment list.
    const v = data.length > 0 ? this.find(addr) : undefined;
    if (v !== undefined && protAllowsWrite(v.prot) && addr + BigInt(data.length - 1) <= v.last) {
      v.object.write(v.objectOffset + (addr - v.start), data);
      return;
    }
    const segs = this.resolve(addr, BigInt(data.length), true, "copy_to_user");
    let pos = 0;
    for (const s of segs) {
      const n = Number(s.length);
      s.object.write(s.objectOffset, data.subarray(pos, pos + n));
      pos += n;
    }
  }

  /** The process itself writing memory (ignores nothing: PROT rules apply as for a user store). */
  canAccess(addr: bigint, length: bigint, write: boolean): boolean {
    try {
      this.resolve(addr, length, write);
      return true;
    } catch {
      return false;
    }
  }

  /** Remove [start, last] from the VMA list, splitting VMAs at the edges. */
  private unmapRange(start: bigint, last: bigint): void {
    this.carve(start, last);
  }

  /** Cut VMAs at start and last+1, remove and return the pieces inside [start, last]. */
  private carve(start: bigint, last: bigint): Vma[] {
    const keep: Vma[] = [];
    const inside: Vma[] = [];
    for (const v of this.vmas) {
      if (v.last < start || v.start > last) {
        keep.push(v);
        continue;
      }
      if (v.start < start) keep.push({ ...v, last: start - 1n });
      const s = v.start > start ? v.start : start;
      const l = v.last < last ? v.last : last;
      inside.push({ ...v, start: s, last: l, objectOffset: v.objectOffset + (s - v.start) });
      if (v.last > last)
        keep.push({ ...v, start: last + 1n, objectOffset: v.objectOffset + (last + 1n - v.start) });
    }
    this.vmas = keep.sort((a, b) => (a.start < b.start ? -1 : 1));
    return inside;
  }

  private insert(v: Vma): void {
    this.vmas.push(v);
    this.vmas.sort((a, b) => (a.start < b.start ? -1 : 1));
  }
}
