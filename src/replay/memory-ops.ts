/**
 * The process's own memory operations of a trace (FORMAT.md §3.2, §4.4): `mmap` events and records,
 * `munmap`, `mprotect`, `fill` (seq7 / byte patterns) and `CHECK_MEMORY`.
 */

import type { AddressSpace, Prot } from "../process/memory.js";
import type { Process, SyscallResult } from "../process/process.js";
import { bytesToHex } from "../uapi/struct.js";
import { hx, numIn, RecordValueError, strIn, u64In, type Json, type JsonObject } from "./records.js";

export function parseProt(text: string): Prot {
  if (text === "rw" || text === "r" || text === "w" || text === "none") return text;
  throw new RecordValueError(`unknown prot ${JSON.stringify(text)}`);
}

/** `fill`: "zero" or a hex byte. */
export function parseFill(v: Json | undefined): number {
  if (v === undefined || v === "zero") return 0;
  if (typeof v === "string" && /^0x[0-9a-fA-F]{1,2}$/.test(v)) return Number(v);
  throw new RecordValueError(`unknown fill ${JSON.stringify(v)}`);
}

function flagSet(v: Json | undefined): Set<string> {
  return new Set(typeof v === "string" ? v.split("|") : []);
}

/** An `mmap` event (meta or section): the mapping as the program created it. */
export function applyMmapEvent(memory: AddressSpace, fields: JsonObject): void {
  const flags = flagSet(fields["flags"]);
  memory.mmap(u64In(fields, "start"), u64In(fields, "length"), parseProt(strIn(fields, "prot")), {
    fill: parseFill(fields["fill"]),
    shared: flags.has("shared"),
    ...(typeof fields["purpose"] === "string" ? { label: fields["purpose"] } : {}),
  });
}

/** seq7 pattern: byte i = (seed + 7·(offset + i)) mod 256. */
export function seq7(seed: number, length: number, offset = 0n): Uint8Array {
  const out = new Uint8Array(length);
  const base = Number((BigInt(seed) + 7n * (offset % 256n)) % 256n);
  for (let i = 0; i < length; i++) out[i] = (base + 7 * i) & 0xff;
  return out;
}

/** Largest range a fill or check touches at once (the arena is 64 MiB). */
const MAX_BYTES = 1 << 28;

function byteLength(input: JsonObject, key: string): number {
  const n = u64In(input, key);
  if (n > BigInt(MAX_BYTES)) throw new RecordValueError(`${key} ${hx(n)} too large to replay`);
  return Number(n);
}

/** Run a memory record on the process: the syscall result and `out`. */
export function memoryOp(
  process: Process,
  op: string,
  input: JsonObject,
): { res: SyscallResult; out: JsonObject } {
  const mem = process.memory;
  switch (op) {
    case "mmap": {
      const flags = flagSet(input["flags"]);
      const res = process.syscall(() => {
        mem.mmap(u64In(input, "addr"), u64In(input, "length"), parseProt(strIn(input, "prot")), {
          fill: parseFill(input["fill"]),
          shared: flags.has("shared"),
          noReplace: flags.has("fixed_noreplace"),
        });
        return 0;
      });
      return { res, out: {} };
    }
    case "munmap":
      return {
        res: process.syscall(() => {
          mem.munmap(u64In(input, "addr"), u64In(input, "length"));
          return 0;
        }),
        out: {},
      };
    case "mprotect":
      return {
        res: process.syscall(() => {
          mem.mprotect(u64In(input, "addr"), u64In(input, "length"), parseProt(strIn(input, "prot")));
          return 0;
        }),
        out: {},
      };
    case "fill": {
      const length = byteLength(input, "length");
      const pattern = strIn(input, "pattern");
      let bytes: Uint8Array;
      if (pattern === "seq7") bytes = seq7(numIn(input, "seed"), length);
      else if (pattern === "byte") bytes = new Uint8Array(length).fill(numIn(input, "byte") & 0xff);
      else throw new RecordValueError(`unknown fill pattern ${JSON.stringify(pattern)}`);
      return {
        res: process.syscall(() => {
          mem.write(u64In(input, "vaddr"), bytes);
          return 0;
        }),
        out: {},
      };
    }
    case "CHECK_MEMORY": {
      const pattern = strIn(input, "pattern");
      if (pattern !== "seq7") throw new RecordValueError(`unknown check pattern ${JSON.stringify(pattern)}`);
      const bytes = mem.read(u64In(input, "vaddr"), byteLength(input, "len"));
      const out = checkMemory(bytes, numIn(input, "seed"), u64In(input, "pattern_offset"));
      return { res: out.equal ? { ret: 0, errno: null } : { ret: -1, errno: "EBADMSG" }, out };
    }
    default:
      throw new RecordValueError(`not a memory op: ${op}`);
  }
}

/** CHECK_MEMORY's `out`: comparison of `bytes` with the seq7 pattern at `patternOffset`. */
export function checkMemory(
  bytes: Uint8Array,
  seed: number,
  patternOffset: bigint,
): { equal: boolean } & Record<string, Json> {
  const want = seq7(seed, bytes.length, patternOffset);
  let mismatched = 0;
  let first = -1;
  let uniform = bytes.length > 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== want[i]) {
      mismatched++;
      if (first < 0) first = i;
    }
    if (bytes[i] !== bytes[0]) uniform = false;
  }
  const out: { equal: boolean } & Record<string, Json> = {
    equal: mismatched === 0,
    mismatched_bytes: hx(mismatched),
  };
  if (first >= 0) out["first_mismatch_offset"] = hx(first);
  if (uniform) out["uniform_byte"] = hx(bytes[0]!);
  out["head"] = bytesToHex(bytes.subarray(0, 16));
  return out;
}
