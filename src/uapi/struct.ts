/**
 * uAPI structs described once, as data.
 *
 * A struct is a list of `[field, type]` (optionally `[field, type, offset]`); offsets follow C
 * natural alignment unless given, the size is rounded up to the largest alignment, and the minimum
 * size (iommufd's `min_size`, VFIO's "argsz must cover …") is the end of the last mandatory field.
 * Encoding is little-endian (x86-64, arm64). u64 fields decode to bigint, everything else to number.
 *
 * Extensible-struct rules live here too: decoding a buffer shorter than the struct reads the missing
 * tail as zero (the kernel's `copy_struct_from_user`), encoding to a smaller size truncates (the
 * kernel copies back `min(user size, struct size)` bytes).
 */

import { readU32, readU64, writeU32, writeU64 } from "./little-endian.js";

export type ScalarType = "u8" | "u16" | "u32" | "s32" | "u64";
/** `padN`: N bytes that are part of the layout but carry no value (never decoded). */
export type PadType = `pad${number}`;
export type FieldType = ScalarType | PadType;

export type FieldSpec = readonly [name: string, type: FieldType] | readonly [string, FieldType, number];

/** The JS type a field decodes to. */
type ValueOf<T extends FieldType> = T extends "u64" ? bigint : number;

type NonPad<F extends FieldSpec> = F extends readonly [infer N, infer T, ...unknown[]]
  ? T extends PadType
    ? never
    : N extends string
      ? T extends ScalarType
        ? readonly [N, T]
        : never
      : never
  : never;

/** Decoded values of a struct: `{ field: number | bigint }` with the type of each field. */
export type StructValues<F extends readonly FieldSpec[]> = {
  [E in NonPad<F[number]> as E[0]]: ValueOf<E[1]>;
};

/** Values accepted by `encode`: any subset, numbers or bigints. Missing fields are 0. */
export type StructInput<F extends readonly FieldSpec[]> = {
  readonly [E in NonPad<F[number]> as E[0]]?: number | bigint;
};

export type FieldName<F extends readonly FieldSpec[]> = NonPad<F[number]>[0];

export interface FieldLayout {
  readonly name: string;
  readonly type: FieldType;
  readonly offset: number;
  readonly size: number;
}

export interface StructOptions<F extends readonly FieldSpec[]> {
  /** Last mandatory field: `minSize` = its end. Default: the whole struct is mandatory. */
  readonly minSizeThrough?: FieldName<F>;
  /** Explicit minimum size, when the last mandatory member is padding. */
  readonly minSize?: number;
  /** Explicit total size (for trailing flexible arrays or kernel padding); default: aligned end. */
  readonly size?: number;
}

export interface StructCodec<F extends readonly FieldSpec[]> {
  readonly name: string;
  readonly fields: readonly FieldLayout[];
  readonly size: number;
  readonly minSize: number;
  readonly align: number;
  offsetOf(field: FieldName<F>): number;
  sizeOf(field: FieldName<F>): number;
  /** Decode from `bytes` at `base`; bytes past the end of `bytes` read as zero. */
  decode(bytes: Uint8Array, base?: number): StructValues<F>;
  /** A zero-filled buffer of `size` bytes (default: the struct size) holding `values`. */
  encode(values: StructInput<F>, size?: number): Uint8Array;
  /** Write `values` into `buf` at `base` (only the named fields; other bytes untouched). */
  encodeInto(buf: Uint8Array, values: StructInput<F>, base?: number): void;
  /** Read one field. */
  get<K extends FieldName<F>>(bytes: Uint8Array, field: K, base?: number): StructValues<F>[K];
}

const SCALAR_SIZE: Record<ScalarType, number> = { u8: 1, u16: 2, u32: 4, s32: 4, u64: 8 };

function typeSize(t: FieldType): number {
  if (t.startsWith("pad")) {
    const n = Number(t.slice(3));
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`bad pad type ${t}`);
    return n;
  }
  return SCALAR_SIZE[t as ScalarType];
}

function typeAlign(t: FieldType): number {
  return t.startsWith("pad") ? 1 : SCALAR_SIZE[t as ScalarType];
}

function alignTo(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}

/** Per-byte read: the slow path for fields that run past the end of the buffer (read as zero). */
function readScalarSlow(bytes: Uint8Array, type: ScalarType, at: number): number | bigint {
  const n = SCALAR_SIZE[type];
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) {
    const b = at + i < bytes.length && at + i >= 0 ? bytes[at + i]! : 0;
    v = (v << 8n) | BigInt(b);
  }
  if (type === "u64") return v;
  if (type === "s32") return Number(BigInt.asIntN(32, v));
  return Number(v);
}

/**
 * Read one little-endian scalar (from bytes, see little-endian.ts). A u64 below 2^53 is one
 * BigInt(number), otherwise two words.
 * Bytes past the end read as zero (extensible struct, short user copy).
 */
function readScalar(bytes: Uint8Array, type: ScalarType, at: number): number | bigint {
  const n = SCALAR_SIZE[type];
  if (at < 0 || at + n > bytes.length) return readScalarSlow(bytes, type, at);
  switch (type) {
    case "u8":
      return bytes[at]!;
    case "u16":
      return bytes[at]! | (bytes[at + 1]! << 8);
    case "u32":
      return readU32(bytes, at);
    case "s32":
      return bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
    case "u64":
      return readU64(bytes, at);
  }
}

const LIMIT: Record<Exclude<ScalarType, "u64" | "s32">, number> = { u8: 2 ** 8, u16: 2 ** 16, u32: 2 ** 32 };
const U64_LIMIT = 1n << 64n;
const S32_MIN = -(1n << 31n);
const U32_LIMIT = 1n << 32n;

/** A value that does not fit its field (an argument error of the caller, not a layout bug). */
export class FieldValueError extends RangeError {
  override readonly name = "FieldValueError";
}

/**
 * Write one scalar. `struct`/`field` name it in a RangeError (the message is only built when the
 * value does not fit: encoding is on every ioctl argument's path).
 */
function writeScalar(
  buf: Uint8Array,
  type: ScalarType,
  at: number,
  value: number | bigint,
  struct: string,
  field: string,
): void {
  const n = SCALAR_SIZE[type];
  if (typeof value === "number" && !Number.isInteger(value))
    throw new FieldValueError(`${struct}.${field}: not an integer`);
  if (type === "u64") {
    const v = typeof value === "bigint" ? value : BigInt(value);
    if (v < 0n || v >= U64_LIMIT)
      throw new FieldValueError(`${struct}.${field}: ${value} does not fit ${type}`);
    if (at >= 0 && at + 8 <= buf.length) {
      writeU64(buf, at, v);
      return;
    }
    let rest = v;
    for (let i = 0; i < n; i++) {
      if (at + i < buf.length) buf[at + i] = Number(rest & 0xffn);
      rest >>= 8n;
    }
    return;
  }
  // Narrow fields: plain numbers (a bigint argument is range-checked first, then converted).
  let v: number;
  if (typeof value === "bigint") {
    const lo = type === "s32" ? S32_MIN : 0n;
    const hi = type === "s32" ? U32_LIMIT : BigInt(LIMIT[type]);
    if (value < lo || value >= hi)
      throw new FieldValueError(`${struct}.${field}: ${value} does not fit ${type}`);
    v = Number(value);
  } else {
    v = value;
    const lo = type === "s32" ? -(2 ** 31) : 0;
    const hi = type === "s32" ? 2 ** 32 : LIMIT[type];
    if (v < lo || v >= hi) throw new FieldValueError(`${struct}.${field}: ${value} does not fit ${type}`);
  }
  if (v < 0) v += 2 ** 32; // s32: two's complement
  if (at >= 0 && at + n <= buf.length) {
    // Whole field inside the buffer: one store (v is an unsigned value below 2^(8n) here).
    if (n === 1) buf[at] = v;
    else if (n === 2) {
      buf[at] = v & 0xff;
      buf[at + 1] = v >>> 8;
    } else writeU32(buf, at, v);
    return;
  }
  for (let i = 0; i < n; i++) {
    if (at + i < buf.length && at + i >= 0) buf[at + i] = v & 0xff;
    v = Math.floor(v / 256);
  }
}

/** Describe a struct once; size, min size, offsets and the codec are derived. */
export function defineStruct<const F extends readonly FieldSpec[]>(
  name: string,
  fields: F,
  opts: StructOptions<F> = {},
): StructCodec<F> {
  const layout: FieldLayout[] = [];
  let cursor = 0;
  let align = 1;
  for (const spec of fields) {
    const [fname, type] = spec;
    const size = typeSize(type);
    const a = typeAlign(type);
    align = Math.max(align, a);
    const offset = spec.length === 3 ? spec[2] : alignTo(cursor, a);
    if (offset < cursor)
      throw new RangeError(`${name}.${fname}: offset ${offset} overlaps the previous field`);
    if (layout.some((f) => f.name === fname)) throw new RangeError(`${name}.${fname}: duplicate field`);
    layout.push({ name: fname, type, offset, size });
    cursor = offset + size;
  }
  const size = opts.size ?? alignTo(cursor, align);
  if (size < cursor) throw new RangeError(`${name}: size ${size} smaller than its fields (${cursor})`);
  const byName = new Map(layout.map((f) => [f.name, f]));
  const field = (f: string): FieldLayout => {
    const l = byName.get(f);
    if (!l) throw new RangeError(`${name} has no field ${f}`);
    return l;
  };
  let minSize = opts.minSize ?? size;
  if (opts.minSizeThrough !== undefined) {
    const l = field(opts.minSizeThrough);
    minSize = l.offset + l.size;
  }
  const scalars = layout.filter((f) => !f.type.startsWith("pad"));
  // Decode plan: parallel arrays (name, type, offset, size) of the value-carrying fields.
  const sNames = scalars.map((f) => f.name);
  const sTypes = scalars.map((f) => f.type as ScalarType);
  const sOffsets = scalars.map((f) => f.offset);
  const sSizes = scalars.map((f) => f.size);
  const nScalars = scalars.length;
  const isPad = new Set(layout.filter((f) => f.type.startsWith("pad")).map((f) => f.name));

  const encodeInto = (buf: Uint8Array, values: StructInput<F>, base = 0): void => {
    const vals = values as Readonly<Record<string, number | bigint | undefined>>;
    // for-in, not Object.keys: no array of the keys per encode.
    for (const key in vals) {
      const v = vals[key];
      if (v === undefined) continue;
      const l = field(key);
      if (isPad.has(key)) throw new RangeError(`${name}.${key} is padding`);
      writeScalar(buf, l.type as ScalarType, base + l.offset, v, name, key);
    }
  };

  return {
    name,
    fields: layout,
    size,
    minSize,
    align,
    offsetOf: (f) => field(f).offset,
    sizeOf: (f) => field(f).size,
    decode(bytes, base = 0) {
      const out: Record<string, number | bigint> = {};
      const len = bytes.length;
      for (let i = 0; i < nScalars; i++) {
        const at = base + sOffsets[i]!;
        const type = sTypes[i]!;
        out[sNames[i]!] =
          at >= 0 && at + sSizes[i]! <= len && type === "u32"
            ? readU32(bytes, at)
            : readScalar(bytes, type, at);
      }
      return out as StructValues<F>;
    },
    encode(values, outSize = size) {
      const full = new Uint8Array(Math.max(size, outSize));
      encodeInto(full, values, 0);
      return outSize === full.length ? full : full.slice(0, outSize);
    },
    encodeInto,
    get(bytes, f, base = 0) {
      const l = field(f);
      return readScalar(bytes, l.type as ScalarType, base + l.offset) as never;
    },
  };
}

/** Plain hex of bytes, two digits per byte, memory order (the vectors' byte-string encoding). */
export function bytesToHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new RangeError(`not a byte string: ${hex}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
