/**
 * The plug-in contract between the system (fd table, device nodes) and the subsystems: an open file
 * answers ioctls, and is released when its last reference goes.
 *
 * Terms: an `OpenFile` is the kernel's `struct file` behaviour (f_op); a `FileHandle` is the
 * reference-counted `struct file` itself (src/process/file-handle.ts): fds and kernel objects (e.g. a
 * VFIO group holding its iommufd) each hold one reference, `release()` runs when the last one is put.
 */

import { fail } from "../core/errno.js";
import { shouldFail } from "../core/fault.js";
import type { FileHandle } from "../process/file-handle.js";
import type { Process } from "../process/process.js";
import type { StructCodec, FieldSpec } from "./struct.js";

export type FileKind = "iommufd" | "vfio-container" | "vfio-group" | "vfio-device" | "vfio-cdev" | "other";

export interface IoctlCall {
  readonly request: number;
  /** The third ioctl argument: a user pointer, or an integer passed by value. */
  readonly arg: bigint;
  readonly process: Process;
  /** The fd the call was issued on (for handlers that need their own `FileHandle`). */
  readonly fd: number;
}

export interface OpenFile {
  readonly kind: FileKind;
  /** Returns the ioctl's non-negative result; throws `IoasError` for -1/errno. */
  ioctl(call: IoctlCall): number;
  /** The last reference was closed. Never fails. */
  release(): void;
  /**
   * Optional ioctls (device GET_INFO / GET_REGION_INFO) are executed by the replayer only when this
   * answers true; other ioctls are always dispatched to `ioctl`.
   */
  supports?(request: number): boolean;
  /** pread(2) on the file (VFIO device regions); throws `IoasError`. */
  pread?(offset: bigint, length: number): Uint8Array;
  /** pwrite(2) on the file; throws `IoasError`. */
  pwrite?(offset: bigint, data: Uint8Array): void;
}

/** The reference-counted `struct file` an fd points to (`FileHandle<OpenFile>`). */
export { FileHandle } from "../process/file-handle.js";
export type OpenFileHandle = FileHandle<OpenFile>;

/** copy_from_user: `length` bytes at `addr` of the process, EFAULT when any byte is unreadable. */
export function copyFromUser(process: Process, addr: bigint, length: number): Uint8Array {
  return process.memory.read(addr, length);
}

/** copy_to_user: EFAULT (and nothing written) when any byte is not writable. */
export function copyToUser(process: Process, addr: bigint, bytes: Uint8Array): void {
  if (shouldFail("uapi.copy_to_user")) fail("EFAULT", "copy_to_user", "injected");
  process.memory.write(addr, bytes);
}

/** get_user of a u32 / s32 (e.g. the leading `argsz`/`size` of a struct, an int fd). */
/** Scratch for `getUserU32` (the simulation is single-threaded and the read does not re-enter). */
const U32_SCRATCH = new Uint8Array(4);

export function getUserU32(process: Process, addr: bigint): number {
  const b = U32_SCRATCH;
  process.memory.readInto(addr, 4, b);
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}

export function getUserS32(process: Process, addr: bigint): number {
  return getUserU32(process, addr) | 0;
}

/**
 * copy_struct_from_user: read a `userSize`-byte extensible struct into the kernel's `codec.size`
 * bytes. A shorter user struct reads as zero past its end; a longer one must have an all-zero tail
 * (E2BIG otherwise, EFAULT if the tail is unreadable). Returns the kernel-sized bytes.
 */
export function copyStructFromUser<F extends readonly FieldSpec[]>(
  process: Process,
  addr: bigint,
  codec: StructCodec<F>,
  userSize: number,
  op: string,
): Uint8Array {
  const ksize = codec.size;
  if (userSize > ksize) {
    const tail = copyFromUser(process, addr + BigInt(ksize), userSize - ksize);
    if (tail.some((b) => b !== 0)) fail("E2BIG", op, "non-zero bytes past the kernel's struct");
  }
  const out = new Uint8Array(ksize);
  process.memory.readInto(addr, Math.min(userSize, ksize), out);
  return out;
}

/**
 * Thrown by a handler for a path the engine does not model yet. The replayer reports the record as
 * "not implemented: <message>" instead of as an engine bug.
 */
export class NotImplementedError extends Error {
  override readonly name = "NotImplementedError";
}
