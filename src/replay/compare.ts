/** Comparison of what the engine did with what the kernel recorded: ret, errno, every `out` field. */

import type { Json, JsonObject } from "./records.js";

export interface Mismatch {
  readonly field: string;
  readonly want: Json | undefined;
  readonly got: Json | undefined;
}

export function jsonEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    const xs = a as readonly Json[];
    const ys = b as readonly Json[];
    for (let i = 0; i < xs.length; i++) if (!jsonEqual(xs[i], ys[i])) return false;
    return true;
  }
  if (typeof a === "object" && typeof b === "object") {
    // Every key of either side (no union Set: a's keys, then b's keys that a does not have).
    const ao = a as JsonObject;
    const bo = b as JsonObject;
    for (const k of Object.keys(ao)) if (!jsonEqual(ao[k], bo[k])) return false;
    for (const k of Object.keys(bo)) if (!Object.hasOwn(ao, k) && !jsonEqual(ao[k], bo[k])) return false;
    return true;
  }
  return false;
}

/** Field-by-field differences of two `out` objects (union of their keys, record order first). */
export function compareOut(want: JsonObject, got: JsonObject): Mismatch[] {
  return compareOutInto(want, got, []);
}

/** `compareOut`, appending to `out` (no key-union array is built). */
export function compareOutInto(want: JsonObject, got: JsonObject, out: Mismatch[]): Mismatch[] {
  for (const k of Object.keys(want))
    if (!jsonEqual(want[k], got[k])) out.push({ field: `out.${k}`, want: want[k], got: got[k] });
  for (const k of Object.keys(got))
    if (!(k in want) && !jsonEqual(want[k], got[k]))
      out.push({ field: `out.${k}`, want: want[k], got: got[k] });
  return out;
}

export function formatValue(v: Json | undefined): string {
  if (v === undefined) return "(absent)";
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}
