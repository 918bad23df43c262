/**
 * IOAS commands (ioas.c): ALLOC, IOVA_RANGES, ALLOW_IOVAS, MAP, COPY, UNMAP, OPTION, VFIO_IOAS.
 * Each checks unknown flags / reserved fields first (EOPNOTSUPP), then hands typed values to the
 * engine, then responds.
 */

import { fail, IoasError } from "../../core/errno.js";
import type { IovaRange } from "../../core/ranges.js";
import { U64_MAX } from "../../core/u64.js";
import { copyFromUser, copyToUser } from "../file.js";
import {
  iommuIoasAlloc,
  iommuIoasAllowIovas,
  iommuIoasCopy,
  iommuIoasIovaRanges,
  iommuIoasMap,
  iommuIoasUnmap,
  iommuIovaRange,
  iommuOption,
  iommuVfioIoas,
} from "../structs/iommufd.js";
import {
  IOMMU_IOAS_MAP_FIXED_IOVA,
  IOMMU_IOAS_MAP_READABLE,
  IOMMU_IOAS_MAP_WRITEABLE,
  IOMMU_OPTION_HUGE_PAGES,
  IOMMU_OPTION_OP_GET,
  IOMMU_OPTION_OP_SET,
  IOMMU_OPTION_RLIMIT_MODE,
  IOMMU_VFIO_IOAS_CLEAR,
  IOMMU_VFIO_IOAS_GET,
  IOMMU_VFIO_IOAS_SET,
} from "../numbers.js";
import type { Ucmd } from "./ucmd.js";

const MAP_FLAGS = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;

/** IOMMU_IOAS_ALLOC: a failing response destroys the new IOAS again (its id is free). */
export function ioasAlloc(u: Ucmd): number {
  const cmd = iommuIoasAlloc.decode(u.bytes);
  if (cmd.flags !== 0) fail("EOPNOTSUPP", "IOMMU_IOAS_ALLOC", "flags must be 0");
  const id = u.ctx.ioasAlloc();
  iommuIoasAlloc.encodeInto(u.bytes, { out_ioas_id: id });
  u.respondCreated(id);
  return 0;
}

/** IOMMU_IOAS_IOVA_RANGES: writes what fits, responds, then EMSGSIZE when the array was short. */
export function ioasIovaRanges(u: Ucmd): number {
  const cmd = iommuIoasIovaRanges.decode(u.bytes);
  if (cmd.__reserved !== 0) fail("EOPNOTSUPP", "IOMMU_IOAS_IOVA_RANGES", "reserved field set");
  const { ranges, alignment } = u.ctx.ioasIovaRanges(cmd.ioas_id);
  const capacity = cmd.num_iovas;
  for (let i = 0; i < ranges.length && i < capacity; i++) {
    const r = ranges[i]!;
    copyToUser(
      u.process,
      cmd.allowed_iovas + BigInt(i * iommuIovaRange.size),
      iommuIovaRange.encode({ start: r.start, last: r.last }),
    );
  }
  iommuIoasIovaRanges.encodeInto(u.bytes, { num_iovas: ranges.length, out_iova_alignment: alignment });
  u.respond();
  if (ranges.length > capacity) fail("EMSGSIZE", "IOMMU_IOAS_IOVA_RANGES", "output array too small");
  return 0;
}

/** IOMMU_IOAS_ALLOW_IOVAS: ranges are read one by one (EFAULT), validated in input order. */
export function ioasAllowIovas(u: Ucmd): number {
  const op = "IOMMU_IOAS_ALLOW_IOVAS";
  const cmd = iommuIoasAllowIovas.decode(u.bytes);
  if (cmd.__reserved !== 0) fail("EOPNOTSUPP", op, "reserved field set");
  u.ctx.ioas(cmd.ioas_id, op);
  const source = {
    length: cmd.num_iovas,
    at: (i: number): IovaRange => {
      const r = iommuIovaRange.decode(
        copyFromUser(u.process, cmd.allowed_iovas + BigInt(i * iommuIovaRange.size), iommuIovaRange.size),
      );
      return { start: r.start, last: r.last };
    },
  };
  u.ctx.ioasAllowIovas(cmd.ioas_id, source);
  return 0;
}

/** IOMMU_IOAS_MAP: responds with the IOVA (an EFAULT there leaves the mapping in place). */
export function ioasMap(u: Ucmd): number {
  const op = "IOMMU_IOAS_MAP";
  const cmd = iommuIoasMap.decode(u.bytes);
  if ((cmd.flags & ~MAP_FLAGS) !== 0 || cmd.__reserved !== 0) fail("EOPNOTSUPP", op, "unknown flags");
  const fixed = (cmd.flags & IOMMU_IOAS_MAP_FIXED_IOVA) !== 0;
  const iova = u.ctx.ioasMap(
    cmd.ioas_id,
    {
      userVa: cmd.user_va,
      length: cmd.length,
      read: (cmd.flags & IOMMU_IOAS_MAP_READABLE) !== 0,
      write: (cmd.flags & IOMMU_IOAS_MAP_WRITEABLE) !== 0,
      ...(fixed ? { iova: cmd.iova } : {}),
    },
    u.pinSource(),
  );
  iommuIoasMap.encodeInto(u.bytes, { iova });
  u.respond();
  return 0;
}

/** IOMMU_IOAS_COPY. */
export function ioasCopy(u: Ucmd): number {
  const op = "IOMMU_IOAS_COPY";
  const cmd = iommuIoasCopy.decode(u.bytes);
  if ((cmd.flags & ~MAP_FLAGS) !== 0) fail("EOPNOTSUPP", op, "unknown flags");
  const fixed = (cmd.flags & IOMMU_IOAS_MAP_FIXED_IOVA) !== 0;
  const iova = u.ctx.ioasCopy(cmd.dst_ioas_id, cmd.src_ioas_id, {
    length: cmd.length,
    srcIova: cmd.src_iova,
    read: (cmd.flags & IOMMU_IOAS_MAP_READABLE) !== 0,
    write: (cmd.flags & IOMMU_IOAS_MAP_WRITEABLE) !== 0,
    ...(fixed ? { dstIova: cmd.dst_iova } : {}),
  });
  iommuIoasCopy.encodeInto(u.bytes, { dst_iova: iova });
  u.respond();
  return 0;
}

/**
 * IOMMU_IOAS_UNMAP: `length` becomes the bytes unmapped, written back on success only. On an ENOENT
 * after partial progress the removed mappings stay removed (kernel behaviour, Appendix B.1).
 */
export function ioasUnmap(u: Ucmd): number {
  const cmd = iommuIoasUnmap.decode(u.bytes);
  const unmapped = u.ctx.ioasUnmap(cmd.ioas_id, cmd.iova, cmd.length);
  iommuIoasUnmap.encodeInto(u.bytes, { length: unmapped });
  u.respond();
  return 0;
}

/** IOMMU_OPTION: on success only `val64` is written back. */
export function option(u: Ucmd): number {
  const op = "IOMMU_OPTION";
  const cmd = iommuOption.decode(u.bytes);
  if (cmd.__reserved !== 0) fail("EOPNOTSUPP", op, "reserved field set");
  let val64 = cmd.val64;
  switch (cmd.option_id) {
    case IOMMU_OPTION_RLIMIT_MODE:
      if (cmd.object_id !== 0) fail("EOPNOTSUPP", op, "RLIMIT_MODE takes no object");
      if (cmd.op === IOMMU_OPTION_OP_GET) val64 = u.ctx.getRlimitModeMm() ? 1n : 0n;
      else if (cmd.op === IOMMU_OPTION_OP_SET)
        u.ctx.setRlimitMode(cmd.val64, u.process.credentials.capSysResource);
      else fail("EOPNOTSUPP", op, "unknown op");
      break;
    case IOMMU_OPTION_HUGE_PAGES: {
      const ioas = u.ctx.ioas(cmd.object_id, op);
      if (cmd.op === IOMMU_OPTION_OP_GET) val64 = ioas.iopt.disableLargePages ? 0n : 1n;
      else if (cmd.op === IOMMU_OPTION_OP_SET) {
        if (cmd.val64 === 0n) u.ctx.setHugePagesIn(ioas, false, op);
        else if (cmd.val64 === 1n) u.ctx.setHugePagesIn(ioas, true, op);
        else fail("EINVAL", op, "HUGE_PAGES value must be 0 or 1");
      } else fail("EOPNOTSUPP", op, "unknown op");
      break;
    }
    default:
      fail("EOPNOTSUPP", op, `unknown option ${cmd.option_id}`);
  }
  const out = iommuOption.encode({ val64 });
  copyToUser(
    u.process,
    u.call.arg + BigInt(iommuOption.offsetOf("val64")),
    out.subarray(iommuOption.offsetOf("val64"), iommuOption.offsetOf("val64") + 8),
  );
  return 0;
}

/** IOMMU_VFIO_IOAS: GET (ENODEV without one) / SET / CLEAR. */
export function vfioIoas(u: Ucmd): number {
  const op = "IOMMU_VFIO_IOAS";
  const cmd = iommuVfioIoas.decode(u.bytes);
  if (cmd.__reserved !== 0) fail("EOPNOTSUPP", op, "reserved field set");
  switch (cmd.op) {
    case IOMMU_VFIO_IOAS_GET:
      iommuVfioIoas.encodeInto(u.bytes, { ioas_id: u.ctx.getVfioIoas() });
      u.respond();
      return 0;
    case IOMMU_VFIO_IOAS_SET:
      u.ctx.setVfioIoas(cmd.ioas_id);
      return 0;
    case IOMMU_VFIO_IOAS_CLEAR:
      u.ctx.clearVfioIoas();
      return 0;
    default:
      fail("EOPNOTSUPP", op, `unknown op ${cmd.op}`);
  }
}

/** Whether an error leaves the user's unmapped count meaningful (compat writes it back). */
export function unmappedOf(e: unknown): bigint {
  return e instanceof IoasError && typeof e.detail?.["unmapped"] === "bigint" ? e.detail["unmapped"] : 0n;
}

export const UNMAP_ALL_LENGTH = U64_MAX;
