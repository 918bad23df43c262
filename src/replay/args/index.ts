/** The op table: record `op` name → how to build its argument and read its `out`. */

import { ioctlByName } from "../../uapi/numbers.js";
import { IOMMUFD_OPS, rawIoctlOp } from "./iommufd.js";
import type { IoctlOp } from "./types.js";
import { VFIO_OPS } from "./vfio.js";

export const IOCTL_OPS: Readonly<Record<string, IoctlOp>> = { ...VFIO_OPS, ...IOMMUFD_OPS };

/** The ioctl op for a record's `op`, including raw `_IO('c',0xNN)` spellings; undefined otherwise. */
export function ioctlOp(op: string): IoctlOp | undefined {
  const known = IOCTL_OPS[op];
  if (known) return known;
  if (op.startsWith("_IO(")) {
    const n = ioctlByName(op);
    return n === undefined ? undefined : rawIoctlOp(n);
  }
  return undefined;
}

export type { ArgContext, BuiltCall, CallResult, IoctlOp } from "./types.js";
export { STACK_BASE } from "./types.js";
