/**
 * How one ioctl record becomes a call (FORMAT.md §4.2) and how its `out` is read back (§4.3).
 *
 * An `IoctlOp` builds the argument in process memory from the record's `in` and returns the ioctl
 * argument plus a reader that, after the call, produces `out` in exactly the record's shape.
 */

import type { Kernel } from "../../uapi/system.js";
import type { Process } from "../../process/process.js";
import type { JsonObject } from "../records.js";

/** Where the replayer keeps argument structs: an address range the traces never use. */
export const STACK_BASE = 0x7ffe_0000_0000n;

export interface ArgContext {
  readonly kernel: Kernel;
  readonly process: Process;
  /** The fd number bound to a name (§3.1); throws when the name is not bound. */
  fdOf(name: string): number;
  /** Bind a name to an fd (GET_DEVICE_FD's `new_fd`). */
  bind(name: string, fd: number): void;
  /** The fd the record is issued on. */
  readonly fd: number;
  /** Place bytes in the private stack region; returns their address. Each call gets fresh space. */
  stack(bytes: Uint8Array): bigint;
  /** Read process memory (the stack or scratch) as the program would. */
  read(addr: bigint, length: number): Uint8Array;
  /** Write process memory as the program would (scratch pre-fills, input arrays). */
  write(addr: bigint, bytes: Uint8Array): void;
}

export interface CallResult {
  readonly ret: number;
  readonly errno: string | null;
}

export interface BuiltCall {
  /** The third ioctl argument. */
  readonly arg: bigint;
  /** After the call: the record's `out`. */
  out(result: CallResult): JsonObject;
  /** Post-processing of a successful call (e.g. binding the new fd of GET_DEVICE_FD to its name). */
  after?(result: CallResult): void;
}

export interface IoctlOp {
  readonly request: number;
  /** The device-fd ioctls the replayer runs only when the file says it supports them. */
  readonly optional?: boolean;
  /** `ret` as the record reports it (GET_DEVICE_FD: a new fd, normalised to 0). */
  normaliseRet?(ret: number): number;
  build(ctx: ArgContext, input: JsonObject, expectedOut: JsonObject): BuiltCall;
}
