/**
 * The vectors' record shapes (FORMAT.md §4) and the value encodings they use: hex strings for
 * addresses/sizes/flags, plain integers for ids and counts, booleans, plain-hex byte strings.
 */

export type Json = null | boolean | number | string | readonly Json[] | { readonly [k: string]: Json };
export type JsonObject = { readonly [k: string]: Json };

interface RecordBase {
  readonly seq: number;
  readonly section: string;
  /** 1-based line in the .jsonl file (for messages). */
  readonly line: number;
}

export interface EventRecord extends RecordBase {
  readonly kind: "event";
  readonly event: string;
  readonly fields: JsonObject;
}

export interface OpRecord extends RecordBase {
  readonly kind: "op";
  readonly case: string;
  readonly fd: string;
  readonly op: string;
  readonly in: JsonObject;
  readonly ret: number;
  readonly errno: string | null;
  readonly out: JsonObject;
}

export type TraceRecord = EventRecord | OpRecord;

/** `<run>-run.json` (FORMAT.md §1). */
export interface RunDefinition {
  readonly run: string;
  readonly kernel: string;
  readonly iommu: "intel-iommu" | "virtio-iommu";
  readonly intremap: boolean | null;
  readonly aw_bits: number | null;
  readonly api: string;
  readonly backend: string;
  readonly type: string | null;
  readonly sections: readonly string[];
  readonly seed: number | null;
  readonly nops: number | null;
  readonly allow_unsafe_interrupts: { readonly vfio_iommu_type1: boolean; readonly iommufd: boolean };
  readonly [k: string]: Json | undefined;
}

/** A malformed value inside a record: the executor turns it into a failure of that record. */
export class RecordValueError extends Error {
  override readonly name = "RecordValueError";
}

/** Digit value of a char code for base 16 (0-9, a-f, A-F), or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * The value of a number string in the vectors' spellings (`0x` + hex digits, or decimal digits) when
 * it has few enough digits to be exact as a double (≤ 13 hex, ≤ 15 decimal); -1 for anything else
 * (longer, or not such a string: the callers then take the general path, with its error message).
 */
function smallNumber(v: string): number {
  const n = v.length;
  if (n > 2 && v.charCodeAt(0) === 48 && v.charCodeAt(1) === 120) {
    if (n > 15) return -1;
    let x = 0;
    for (let i = 2; i < n; i++) {
      const d = hexDigit(v.charCodeAt(i));
      if (d < 0) return -1;
      x = x * 16 + d;
    }
    return x;
  }
  if (n === 0 || n > 15) return -1;
  let x = 0;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    x = x * 10 + (c - 48);
  }
  return x;
}

/** A hex-string (or integer) field as an unsigned bigint; missing → 0 (FORMAT.md §4.1: "not listed = 0"). */
export function u64In(obj: JsonObject, key: string, dflt = 0n): bigint {
  const v = obj[key];
  if (v === undefined) return dflt;
  if (typeof v === "string") {
    // Parsed by hand (no regex, no string-to-BigInt) when the value is exact as a double.
    const x = smallNumber(v);
    if (x >= 0) return BigInt(x);
  }
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "string" && /^(0x[0-9a-fA-F]+|\d+)$/.test(v)) return BigInt(v);
  throw new RecordValueError(`field ${key}: not an unsigned number: ${JSON.stringify(v)}`);
}

/** A field that must fit in a JS number (ids, counts, 32-bit values). */
export function numIn(obj: JsonObject, key: string, dflt = 0): number {
  const v = obj[key];
  // Fast paths, same results as the general one below (which goes through a bigint).
  if (typeof v === "string") {
    const x = smallNumber(v);
    if (x >= 0) return x;
  } else if (typeof v === "number" && Number.isSafeInteger(v)) return v + 0;
  else if (v === undefined && Number.isSafeInteger(dflt)) return dflt + 0;
  const b = u64In(obj, key, BigInt(dflt));
  if (b > BigInt(Number.MAX_SAFE_INTEGER)) throw new RecordValueError(`field ${key}: too large: ${b}`);
  return Number(b);
}

/**
 * The replayer stages an argument in the simulated process as the recording program allocated it —
 * `max(argsz, struct size)` bytes, filled with 0xa5 — so an `argsz`/`size` is also a buffer size,
 * and the replayer's argument stack (executor.ts) is this big. Above it a record is refused: no
 * recorded trace comes near, and a 4 GiB staging buffer would only cost memory and seconds.
 */
export const MAX_STAGED_ARGUMENT = 1 << 20;

/** A struct's `argsz`/`size` field: a u32, and at most MAX_STAGED_ARGUMENT (a buffer size too). */
export function sizeIn(obj: JsonObject, key: "argsz" | "size"): number {
  const v = numIn(obj, key);
  if (v > 0xffff_ffff) throw new RecordValueError(`field ${key}: 0x${v.toString(16)} does not fit its u32`);
  if (v > MAX_STAGED_ARGUMENT)
    throw new RecordValueError(
      `field ${key}: 0x${v.toString(16)} exceeds the replayer's ${MAX_STAGED_ARGUMENT >> 20} MiB argument buffer`,
    );
  return v;
}

export function strIn(obj: JsonObject, key: string): string {
  const v = obj[key];
  if (typeof v !== "string")
    throw new RecordValueError(`field ${key}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}

export function has(obj: JsonObject, key: string): boolean {
  return obj[key] !== undefined;
}

/** The vectors' hex encoding: lowercase, `0x`, no padding. */
export function hx(v: bigint | number): string {
  return "0x" + v.toString(16);
}
