/**
 * Unsigned 64-bit arithmetic as the kernel does it, on bigint.
 *
 * Every IOVA, length and address in the engine is a bigint in [0, U64_MAX]. Helpers here never
 * wrap silently: callers ask whether an operation would wrap and pick the kernel's errno.
 */

export const U64_MAX = (1n << 64n) - 1n;
export const U32_MAX = 0xffff_ffff;
/** ULONG_MAX = SIZE_MAX = U64_MAX on LP64. */
export const ULONG_MAX = U64_MAX;
/** CPU page size on x86-64 and on the reference kernels. */
export const PAGE_SIZE = 4096n;
export const PAGE_SHIFT = 12n;

export function isU64(v: bigint): boolean {
  return v >= 0n && v <= U64_MAX;
}

/** `a + b` would exceed U64_MAX (the kernel's check_add_overflow on u64). */
export function addOverflows(a: bigint, b: bigint): boolean {
  return a + b > U64_MAX;
}

/** Inclusive last byte of [start, start+length); undefined when it wraps past 2^64-1 or length is 0. */
export function lastOf(start: bigint, length: bigint): bigint | undefined {
  if (length === 0n) return undefined;
  const last = start + length - 1n;
  return last > U64_MAX ? undefined : last;
}

export function isAligned(v: bigint, align: bigint): boolean {
  return align <= 1n ? true : v % align === 0n;
}

export function alignUp(v: bigint, align: bigint): bigint {
  if (align <= 1n) return v;
  return ((v + align - 1n) / align) * align;
}

export function alignDown(v: bigint, align: bigint): bigint {
  if (align <= 1n) return v;
  return (v / align) * align;
}

/** Lowest set bit of v (v & -v); 0 for 0. */
export function lowestSetBit(v: bigint): bigint {
  return v & -v;
}

/** Smallest power of two ≥ v (v ≥ 1). */
export function roundUpPowerOfTwo(v: bigint): bigint {
  if (v <= 1n) return 1n;
  let p = 1n;
  while (p < v) p <<= 1n;
  return p;
}

export function isPowerOfTwo(v: bigint): boolean {
  return v > 0n && (v & (v - 1n)) === 0n;
}

export function log2(v: bigint): number {
  let n = 0;
  while (v > 1n) {
    v >>= 1n;
    n++;
  }
  return n;
}

/** `0x`-prefixed lowercase hex, no padding (the vectors' encoding). */
export function hex(v: bigint | number): string {
  return "0x" + v.toString(16);
}

/** `0x` plus 16 hex digits, as sysfs prints reserved regions. */
export function hex64(v: bigint): string {
  return "0x" + v.toString(16).padStart(16, "0");
}

/** Parse a decimal or 0x-hex string into a u64; throws RangeError for anything else. */
export function parseU64(text: string): bigint {
  const t = text.trim();
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(t))
    throw new RangeError(`not an unsigned integer: ${JSON.stringify(text)}`);
  const v = BigInt(t);
  if (v > U64_MAX) throw new RangeError(`does not fit in 64 bits: ${text}`);
  return v;
}

const UNITS: readonly [bigint, string][] = [
  [1n << 60n, "EiB"],
  [1n << 50n, "PiB"],
  [1n << 40n, "TiB"],
  [1n << 30n, "GiB"],
  [1n << 20n, "MiB"],
  [1n << 10n, "KiB"],
];

/** Human size: exact units where possible ("4 KiB", "1 TiB"), else one decimal ("1.5 GiB"), else bytes. */
export function formatSize(bytes: bigint): string {
  for (const [unit, name] of UNITS) {
    if (bytes >= unit) {
      if (bytes % unit === 0n) return `${bytes / unit} ${name}`;
      const tenths = (bytes * 10n) / unit;
      return `${tenths / 10n}.${tenths % 10n} ${name}`;
    }
  }
  return `${bytes} B`;
}

/** Shared bigints 0 … 1024: counters that are usually small (pages of one mapping) reuse these. */
const SMALL_BIGINTS: readonly bigint[] = Array.from({ length: 1025 }, (_, i) => BigInt(i));

/** `v` itself, or the shared bigint of the same value when 0 ≤ v ≤ 1024 (saves a heap bigint). */
export function smallBigint(v: bigint): bigint {
  return v >= 0n && v <= 1024n ? SMALL_BIGINTS[Number(v)]! : v;
}

const POWERS_OF_TWO: readonly bigint[] = Array.from({ length: 64 }, (_, i) => 1n << BigInt(i));

/**
 * `v` itself, or the shared bigint of the same power of two below 2^64 — page and huge-page sizes,
 * what most mappings are: a record that keeps its size then holds no bigint of its own for it.
 */
export function sharedPowerOfTwo(v: bigint): bigint {
  if (v <= 0n || v > U64_MAX || (v & (v - 1n)) !== 0n) return v;
  // Powers of two are exact doubles, and so is their log2.
  return POWERS_OF_TWO[Math.log2(Number(v))]!;
}
