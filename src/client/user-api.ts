/**
 * A user-space client of the simulated kernel: what a VMM's thin ioctl wrapper does. Structs are
 * encoded into the process's own memory, the real ioctl numbers are issued through the fd table,
 * and results are decoded back — so everything it does goes through the byte-exact uAPI layer.
 * Failures throw `IoasError` with the kernel's errno.
 *
 * Layer: above uapi/ (like replay/); used by tests, the fuzzer, compat-diff and the benchmarks.
 */

import { IoasError } from "../core/errno.js";
import type { Process } from "../process/process.js";
import * as N from "../uapi/numbers.js";
import {
  iommuDestroy,
  iommuIoasAlloc,
  iommuIoasCopy,
  iommuIoasIovaRanges,
  iommuIoasMap,
  iommuIoasUnmap,
  iommuIovaRange,
} from "../uapi/structs/iommufd.js";
import {
  vfioDeviceAttachIommufdPt,
  vfioDeviceBindIommufd,
  vfioIommuType1DmaMap,
  vfioIommuType1DmaUnmap,
} from "../uapi/structs/vfio.js";

/** Where the client keeps its argument structs (a private page range, like a stack). */
const ARG_BASE = 0x7ffd_0000_0000n;
const ARG_SIZE = 0x10000n;

export interface Perms {
  readonly read: boolean;
  readonly write: boolean;
}

export class UserClient {
  readonly process: Process;

  constructor(process: Process) {
    this.process = process;
    if (!process.memory.find(ARG_BASE))
      process.memory.mmap(ARG_BASE, ARG_SIZE, "rw", { label: "client-args" });
  }

  private call(fd: number, request: number, arg: bigint, op: string): number {
    const r = this.process.ioctl(fd, request, arg);
    if (r.errno) throw new IoasError(r.errno, op);
    return r.ret;
  }

  private put(bytes: Uint8Array, at = ARG_BASE): bigint {
    this.process.memory.write(at, bytes);
    return at;
  }

  open(path: string): number {
    const r = this.process.syscall(() => this.process.open(path));
    if (r.errno) throw new IoasError(r.errno, `open ${path}`);
    return r.ret;
  }

  close(fd: number): void {
    this.process.close(fd);
  }

  // ---- iommufd ----

  ioasAlloc(iommufd: number): number {
    const arg = this.put(iommuIoasAlloc.encode({ size: iommuIoasAlloc.size }));
    this.call(iommufd, N.IOMMU_IOAS_ALLOC, arg, "IOMMU_IOAS_ALLOC");
    return iommuIoasAlloc.decode(this.process.memory.read(arg, iommuIoasAlloc.size)).out_ioas_id;
  }

  destroy(iommufd: number, id: number): void {
    this.call(
      iommufd,
      N.IOMMU_DESTROY,
      this.put(iommuDestroy.encode({ size: iommuDestroy.size, id })),
      "IOMMU_DESTROY",
    );
  }

  /** IOAS_MAP: fixed IOVA when `iova` is given, else automatic; returns the IOVA. */
  ioasMap(
    iommufd: number,
    ioasId: number,
    userVa: bigint,
    length: bigint,
    perms: Perms,
    iova?: bigint,
  ): bigint {
    const flags =
      (iova !== undefined ? N.IOMMU_IOAS_MAP_FIXED_IOVA : 0) |
      (perms.write ? N.IOMMU_IOAS_MAP_WRITEABLE : 0) |
      (perms.read ? N.IOMMU_IOAS_MAP_READABLE : 0);
    const arg = this.put(
      iommuIoasMap.encode({
        size: iommuIoasMap.size,
        flags,
        ioas_id: ioasId,
        user_va: userVa,
        length,
        iova: iova ?? 0n,
      }),
    );
    this.call(iommufd, N.IOMMU_IOAS_MAP, arg, "IOMMU_IOAS_MAP");
    return iommuIoasMap.decode(this.process.memory.read(arg, iommuIoasMap.size)).iova;
  }

  ioasCopy(
    iommufd: number,
    dst: number,
    src: number,
    srcIova: bigint,
    length: bigint,
    perms: Perms,
    dstIova?: bigint,
  ): bigint {
    const flags =
      (dstIova !== undefined ? N.IOMMU_IOAS_MAP_FIXED_IOVA : 0) |
      (perms.write ? N.IOMMU_IOAS_MAP_WRITEABLE : 0) |
      (perms.read ? N.IOMMU_IOAS_MAP_READABLE : 0);
    const arg = this.put(
      iommuIoasCopy.encode({
        size: iommuIoasCopy.size,
        flags,
        dst_ioas_id: dst,
        src_ioas_id: src,
        length,
        dst_iova: dstIova ?? 0n,
        src_iova: srcIova,
      }),
    );
    this.call(iommufd, N.IOMMU_IOAS_COPY, arg, "IOMMU_IOAS_COPY");
    return iommuIoasCopy.decode(this.process.memory.read(arg, iommuIoasCopy.size)).dst_iova;
  }

  /** IOAS_UNMAP: returns the bytes unmapped. */
  ioasUnmap(iommufd: number, ioasId: number, iova: bigint, length: bigint): bigint {
    const arg = this.put(iommuIoasUnmap.encode({ size: iommuIoasUnmap.size, ioas_id: ioasId, iova, length }));
    this.call(iommufd, N.IOMMU_IOAS_UNMAP, arg, "IOMMU_IOAS_UNMAP");
    return iommuIoasUnmap.decode(this.process.memory.read(arg, iommuIoasUnmap.size)).length;
  }

  /** IOAS_IOVA_RANGES with the two-pass EMSGSIZE protocol a VMM uses. */
  ioasIovaRanges(
    iommufd: number,
    ioasId: number,
  ): { ranges: { start: bigint; last: bigint }[]; alignment: bigint } {
    const arrayAt = ARG_BASE + 0x1000n;
    let capacity = 0;
    for (;;) {
      const arg = this.put(
        iommuIoasIovaRanges.encode({
          size: iommuIoasIovaRanges.size,
          ioas_id: ioasId,
          num_iovas: capacity,
          allowed_iovas: capacity > 0 ? arrayAt : 0n,
        }),
      );
      const r = this.process.ioctl(iommufd, N.IOMMU_IOAS_IOVA_RANGES, arg);
      const out = iommuIoasIovaRanges.decode(this.process.memory.read(arg, iommuIoasIovaRanges.size));
      if (r.errno === "EMSGSIZE" && out.num_iovas > capacity && out.num_iovas <= 1024) {
        capacity = out.num_iovas;
        continue;
      }
      if (r.errno) throw new IoasError(r.errno, "IOMMU_IOAS_IOVA_RANGES");
      const bytes = this.process.memory.read(arrayAt, out.num_iovas * iommuIovaRange.size);
      const ranges = [...Array(out.num_iovas).keys()].map((i) =>
        iommuIovaRange.decode(bytes, i * iommuIovaRange.size),
      );
      return { ranges, alignment: out.out_iova_alignment };
    }
  }

  /** Bind a device cdev to an iommufd; returns the device id. */
  bind(deviceFd: number, iommufd: number): number {
    const arg = this.put(vfioDeviceBindIommufd.encode({ argsz: 16, iommufd }));
    this.call(deviceFd, N.VFIO_DEVICE_BIND_IOMMUFD, arg, "VFIO_DEVICE_BIND_IOMMUFD");
    return vfioDeviceBindIommufd.decode(this.process.memory.read(arg, 16)).out_devid;
  }

  /** Attach (or replace) a bound cdev to an IOAS or HWPT; returns the id actually attached. */
  attach(deviceFd: number, ptId: number): number {
    const arg = this.put(vfioDeviceAttachIommufdPt.encode({ argsz: 12, pt_id: ptId }));
    this.call(deviceFd, N.VFIO_DEVICE_ATTACH_IOMMUFD_PT, arg, "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
    return vfioDeviceAttachIommufdPt.decode(this.process.memory.read(arg, 12)).pt_id;
  }

  // ---- VFIO container / group (type1 or iommufd compat) ----

  setContainer(groupFd: number, containerFd: number): void {
    const at = this.put(new Uint8Array(new Int32Array([containerFd]).buffer));
    this.call(groupFd, N.VFIO_GROUP_SET_CONTAINER, at, "VFIO_GROUP_SET_CONTAINER");
  }

  setIommu(containerFd: number, type: number): void {
    this.call(containerFd, N.VFIO_SET_IOMMU, BigInt(type), "VFIO_SET_IOMMU");
  }

  getDeviceFd(groupFd: number, bdf: string): number {
    const at = this.put(new TextEncoder().encode(bdf + "\0"));
    return this.call(groupFd, N.VFIO_GROUP_GET_DEVICE_FD, at, "VFIO_GROUP_GET_DEVICE_FD");
  }

  mapDma(containerFd: number, vaddr: bigint, iova: bigint, size: bigint, perms: Perms): void {
    const flags = (perms.read ? N.VFIO_DMA_MAP_FLAG_READ : 0) | (perms.write ? N.VFIO_DMA_MAP_FLAG_WRITE : 0);
    const arg = this.put(
      vfioIommuType1DmaMap.encode({ argsz: vfioIommuType1DmaMap.size, flags, vaddr, iova, size }),
    );
    this.call(containerFd, N.VFIO_IOMMU_MAP_DMA, arg, "VFIO_IOMMU_MAP_DMA");
  }

  /** UNMAP_DMA: returns the bytes unmapped. */
  unmapDma(containerFd: number, iova: bigint, size: bigint, flags = 0): bigint {
    const arg = this.put(
      vfioIommuType1DmaUnmap.encode({ argsz: vfioIommuType1DmaUnmap.size, flags, iova, size }),
    );
    this.call(containerFd, N.VFIO_IOMMU_UNMAP_DMA, arg, "VFIO_IOMMU_UNMAP_DMA");
    return vfioIommuType1DmaUnmap.decode(this.process.memory.read(arg, vfioIommuType1DmaUnmap.size)).size;
  }
}
