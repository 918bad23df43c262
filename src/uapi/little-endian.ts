/**
 * Little-endian scalars in byte arrays, assembled byte by byte: no DataView, because `bytes.buffer`
 * on a small (on-heap) Uint8Array makes V8 materialise an ArrayBuffer, which costs more than the
 * access itself. Callers check bounds.
 */

/** 2^32 as a number. */
const TWO_32 = 4294967296;
/** The largest high word of a u64 that is still exact as a double (below 2^53). */
const HI_EXACT = 0x200000;
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

export function readU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** Read a u64: below 2^53 one BigInt of a double, else assembled from its two words. */
export function readU64(b: Uint8Array, at: number): bigint {
  const lo = readU32(b, at);
  const hi = readU32(b, at + 4);
  return hi < HI_EXACT ? BigInt(hi * TWO_32 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

export function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

/** Write a u64 (0 ≤ v < 2^64): below 2^53 as one double split in two words, else by BigInt shifts. */
export function writeU64(b: Uint8Array, at: number, v: bigint): void {
  if (v <= MAX_EXACT) {
    const x = Number(v);
    writeU32(b, at, x >>> 0);
    writeU32(b, at + 4, Math.floor(x / TWO_32));
  } else {
    writeU32(b, at, Number(v & 0xffffffffn));
    writeU32(b, at + 4, Number(v >> 32n));
  }
}
