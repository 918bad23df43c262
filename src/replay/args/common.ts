/** Building blocks shared by the per-op argument tables. */

import type { FieldSpec, StructCodec } from "../../uapi/struct.js";
import { bytesToHex } from "../../uapi/struct.js";
import { hx, RecordValueError, strIn, type Json, type JsonObject } from "../records.js";
import type { ArgContext } from "./types.js";

/** The byte the program pre-fills "kernel did not write this" fields with (FORMAT.md §4.2). */
export const PREFILL = 0xa5;
export const PREFILL_U32 = 0xa5a5a5a5;
export const PREFILL_U64 = 0xa5a5a5a5a5a5a5a5n;

export function filled(length: number, byte: number): Uint8Array {
  const b = new Uint8Array(length);
  if (byte !== 0) b.fill(byte);
  return b;
}

/** Pre-fill one field of a struct buffer with 0xa5. */
export function prefillField<F extends readonly FieldSpec[]>(
  buf: Uint8Array,
  codec: StructCodec<F>,
  field: Parameters<StructCodec<F>["offsetOf"]>[0],
): void {
  const off = codec.offsetOf(field);
  buf.fill(PREFILL, off, off + codec.sizeOf(field));
}

/** An fd-valued `in` field: a bound name, the literal "-1", or "group fd" (the record's own fd). */
export function fdArg(ctx: ArgContext, input: JsonObject, key: string): number {
  const v = input[key];
  if (v === "-1" || v === -1) return -1;
  const name = strIn(input, key);
  if (name === "group fd") return ctx.fd;
  return ctx.fdOf(name);
}

/** `out` fields listed in hex. */
export function hexFields(
  values: Readonly<Record<string, number | bigint>>,
  names: readonly string[],
): JsonObject {
  const out: Record<string, Json> = {};
  for (const n of names) {
    const v = values[n];
    if (v === undefined) throw new RecordValueError(`no field ${n}`);
    out[n] = hx(v);
  }
  return out;
}

/** Names of the fields whose bytes differ between two encodings of the same struct. */
export function changedFields<F extends readonly FieldSpec[]>(
  codec: StructCodec<F>,
  before: Uint8Array,
  after: Uint8Array,
): string[] {
  const out: string[] = [];
  for (const f of codec.fields) {
    if (f.type.startsWith("pad")) continue;
    for (let i = f.offset; i < f.offset + f.size; i++) {
      if (before[i] !== after[i]) {
        out.push(f.name);
        break;
      }
    }
  }
  return out;
}

export { bytesToHex };
