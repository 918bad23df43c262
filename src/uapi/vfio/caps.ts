/**
 * VFIO's generic capability chain (vfio_main.c `vfio_info_cap_add`, `vfio_info_cap_shift`).
 *
 * Each capability starts with `struct vfio_info_cap_header` {id u16, version u16, next u32}; `next`
 * is the offset of the following capability from the start of the info struct (0 = last). Before 6.6
 * capabilities were packed back to back; since 6.6 each one's size is rounded up to 8 with the gap
 * zero-filled (`vfioCapsAligned`).
 */

import { writeU32, writeU64 } from "../little-endian.js";
import { vfioInfoCapHeader } from "../structs/vfio.js";

interface Cap {
  readonly offset: number;
  readonly bytes: Uint8Array;
}

export class CapChain {
  private readonly caps: Cap[] = [];
  private total = 0;

  constructor(private readonly aligned: boolean) {}

  /** Bytes of the whole chain. */
  get size(): number {
    return this.total;
  }

  get empty(): boolean {
    return this.caps.length === 0;
  }

  /** Append a capability: `body` is everything after the 8-byte header. */
  add(id: number, version: number, body: Uint8Array): void {
    const raw = 8 + body.length;
    const size = this.aligned ? Math.ceil(raw / 8) * 8 : raw;
    const bytes = new Uint8Array(size);
    vfioInfoCapHeader.encodeInto(bytes, { id, version, next: 0 });
    bytes.set(body, 8);
    const prev = this.caps.at(-1);
    if (prev) vfioInfoCapHeader.encodeInto(prev.bytes, { next: this.total });
    this.caps.push({ offset: this.total, bytes });
    this.total += size;
  }

  /** The chain placed at `shift` bytes into the info struct (`vfio_info_cap_shift`). */
  bytes(shift: number): Uint8Array {
    const out = new Uint8Array(this.total);
    this.caps.forEach((c, i) => {
      out.set(c.bytes, c.offset);
      if (i < this.caps.length - 1) {
        const next = vfioInfoCapHeader.get(c.bytes, "next");
        vfioInfoCapHeader.encodeInto(out, { next: next + shift }, c.offset);
      }
    });
    return out;
  }
}

/**
 * Little-endian field writer for capability bodies (bytes, not a DataView: a DataView of a small
 * buffer made V8 materialise its ArrayBuffer — a seventh of a GET_INFO replay).
 */
export class Bytes {
  readonly buf: Uint8Array;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }

  u32(at: number, v: number): this {
    writeU32(this.buf, at, v >>> 0);
    return this;
  }

  u64(at: number, v: bigint): this {
    writeU64(this.buf, at, BigInt.asUintN(64, v));
    return this;
  }
}
