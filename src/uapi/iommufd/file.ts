/**
 * `/dev/iommu`: the open file of one iommufd context and the native dispatcher (main.c
 * `iommufd_fops_ioctl`, semantics.md §1.4.1), driven by a declarative table: number → struct →
 * handler; the minimum size is the struct's (end of the last mandatory field).
 *
 * Order for every command: nr outside the table → VFIO compat hook (ENOTTY without one); read the
 * u32 size (EFAULT); table entry's full number ≠ request (ENOTTY); size < min (EINVAL); copy the
 * struct, zero-extended, with an all-zero tail past the kernel's size (E2BIG); run the handler.
 */

import { IommufdContext } from "../../core/iommufd/context.js";
import { fail } from "../../core/errno.js";
import { shouldFail } from "../../core/fault.js";
import { copyStructFromUser, getUserU32, type IoctlCall, type OpenFile } from "../file.js";
import * as N from "../numbers.js";
import type { FieldSpec, StructCodec } from "../struct.js";
import {
  iommuDestroy,
  iommuHwInfo,
  iommuHwptGetDirtyBitmap,
  iommuHwptSetDirtyTracking,
  iommuIoasAlloc,
  iommuIoasAllowIovas,
  iommuIoasCopy,
  iommuIoasIovaRanges,
  iommuIoasMap,
  iommuIoasUnmap,
  iommuOption,
  iommuVfioIoas,
  hwptAllocStruct,
} from "../structs/iommufd.js";
import type { Kernel } from "../system.js";
import { destroy, getDirtyBitmap, getHwInfo, hwptAlloc, setDirtyTracking } from "./hwpt.js";
import {
  ioasAllowIovas,
  ioasAlloc,
  ioasCopy,
  ioasIovaRanges,
  ioasMap,
  ioasUnmap,
  option,
  vfioIoas,
} from "./ioas.js";
import { IOMMU_RESV_IOVA_RANGES_EXT, resvIovaRanges, resvIovaRangesEnabled } from "./resv-ranges.js";
import { Ucmd } from "./ucmd.js";

interface TableEntry {
  readonly request: number;
  readonly codec: StructCodec<readonly FieldSpec[]>;
  readonly handler: (u: Ucmd) => number;
}

/**
 * Handler of the commands the native table does not own (VFIO container ioctls on an iommufd fd):
 * returns the ioctl result, or undefined when it does not know the command (→ ENOTTY).
 */
export type VfioCompatHandler = (file: IommufdFile, call: IoctlCall) => number | undefined;

function entry(
  request: number,
  codec: StructCodec<readonly FieldSpec[]>,
  handler: (u: Ucmd) => number,
): TableEntry {
  return { request, codec, handler };
}

/** The native command table of a kernel (commands past `iommufdLastNr` go to the compat hook). */
function commandTable(kernel: Kernel): Map<number, TableEntry> {
  const hwptCodec = hwptAllocStruct(kernel.features.hwptAllocSize) as unknown as StructCodec<
    readonly FieldSpec[]
  >;
  const all: TableEntry[] = [
    entry(N.IOMMU_DESTROY, iommuDestroy, destroy),
    entry(N.IOMMU_IOAS_ALLOC, iommuIoasAlloc, ioasAlloc),
    entry(N.IOMMU_IOAS_ALLOW_IOVAS, iommuIoasAllowIovas, ioasAllowIovas),
    entry(N.IOMMU_IOAS_COPY, iommuIoasCopy, ioasCopy),
    entry(N.IOMMU_IOAS_IOVA_RANGES, iommuIoasIovaRanges, ioasIovaRanges),
    entry(N.IOMMU_IOAS_MAP, iommuIoasMap, ioasMap),
    entry(N.IOMMU_IOAS_UNMAP, iommuIoasUnmap, ioasUnmap),
    entry(N.IOMMU_OPTION, iommuOption, option),
    entry(N.IOMMU_VFIO_IOAS, iommuVfioIoas, vfioIoas),
    entry(N.IOMMU_HWPT_ALLOC, hwptCodec, hwptAlloc),
    entry(N.IOMMU_GET_HW_INFO, iommuHwInfo, getHwInfo),
    entry(N.IOMMU_HWPT_SET_DIRTY_TRACKING, iommuHwptSetDirtyTracking, setDirtyTracking),
    entry(N.IOMMU_HWPT_GET_DIRTY_BITMAP, iommuHwptGetDirtyBitmap, getDirtyBitmap),
  ];
  const last = kernel.features.iommufdLastNr;
  return new Map(all.filter((e) => N.ioctlNr(e.request) <= last).map((e) => [N.ioctlNr(e.request), e]));
}

/** One table per kernel (the file keeps no functions of its own, so saved states need none). */
const tables = new WeakMap<Kernel, Map<number, TableEntry>>();

function kernelTable(kernel: Kernel): Map<number, TableEntry> {
  let t = tables.get(kernel);
  if (!t) tables.set(kernel, (t = commandTable(kernel)));
  return t;
}

const COMPAT_KEY = "iommufd.vfio-compat";

/** Install the VFIO-compat handler (helper-4's vfio_compat) for every iommufd file of `kernel`. */
export function setVfioCompatHandler(kernel: Kernel, handler: VfioCompatHandler | null): void {
  kernel.service<{ handler: VfioCompatHandler | null }>(COMPAT_KEY, () => ({ handler: null })).handler =
    handler;
}

function vfioCompatHandler(kernel: Kernel): VfioCompatHandler | null {
  return kernel.service<{ handler: VfioCompatHandler | null }>(COMPAT_KEY, () => ({ handler: null })).handler;
}

/** Every live iommufd context of a kernel (the DMA resolver and the compat link look here). */
export function iommufdContexts(kernel: Kernel): Set<IommufdContext> {
  return kernel.service("iommufd.contexts", () => new Set<IommufdContext>());
}

export class IommufdFile implements OpenFile {
  readonly kind = "iommufd" as const;
  readonly ctx: IommufdContext;

  constructor(
    readonly kernel: Kernel,
    opts: { accountMode?: "user" | "mm" } = {},
  ) {
    // iommufd_fops_open: the context allocation (nothing exists yet to unwind).
    if (shouldFail("iommufd.ctx_alloc")) fail("ENOMEM", "iommufd_fops_open", "injected");
    this.ctx = new IommufdContext(kernel.host, opts);
    iommufdContexts(kernel).add(this.ctx);
  }

  ioctl(call: IoctlCall): number {
    const nr = N.ioctlNr(call.request);
    if (call.request === IOMMU_RESV_IOVA_RANGES_EXT && resvIovaRangesEnabled(this.kernel))
      return resvIovaRanges(this, call);
    if (nr < N.IOMMUFD_CMD_BASE || nr > this.kernel.features.iommufdLastNr) {
      const r = vfioCompatHandler(this.kernel)?.(this, call);
      if (r === undefined)
        fail("ENOTTY", "iommufd_vfio_ioctl", `unknown command 0x${call.request.toString(16)}`);
      return r;
    }
    const userSize = getUserU32(call.process, call.arg);
    const e = kernelTable(this.kernel).get(nr);
    if (!e || e.request !== call.request) fail("ENOTTY", "iommufd_fops_ioctl", "no such command");
    if (userSize < e.codec.minSize)
      fail("EINVAL", "iommufd_fops_ioctl", `size ${userSize} below ${e.codec.minSize}`);
    const bytes = copyStructFromUser(call.process, call.arg, e.codec, userSize, "iommufd_fops_ioctl");
    return e.handler(new Ucmd(this.kernel, this.ctx, call, e.codec, bytes, userSize));
  }

  release(): void {
    this.ctx.close();
    iommufdContexts(this.kernel).delete(this.ctx);
  }
}
