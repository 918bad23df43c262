/**
 * Engine set-ups shared by the benchmarks: a type1 container with one group attached (so every map
 * pins and mirrors into a hardware domain) and an iommufd IOAS with one device attached (an
 * automatic HWPT, so every map pins and fills a domain) — on the typed API and through the binary
 * uAPI (UserClient: structs in process memory, real ioctl numbers).
 */

import { UserClient } from "../src/client/user-api.js";
import { IommufdContext } from "../src/core/iommufd/context.js";
import type { PinSource } from "../src/core/iommufd/pages.js";
import { kernelFeatures } from "../src/core/kernel.js";
import { qemuQ35VtdHost } from "../src/core/topology/presets.js";
import type { Host } from "../src/core/topology/types.js";
import { VfioContainer } from "../src/core/vfio/container.js";
import { VfioSubsystem } from "../src/core/vfio/subsystem.js";
import type { DmaTask } from "../src/core/vfio/type1.js";
import { AddressSpace } from "../src/process/memory.js";
import { createSystem, type System } from "../src/uapi/system.js";

/** Process VA of the arena backing every mapping (sparse: untouched pages cost nothing). */
export const ARENA = 0x100_0000_0000n;
/** IOVA base: above the q35 MSI window and low MMIO, inside a 39-bit VT-d aperture. */
export const IOVA_BASE = 1n << 36n;

/** The q35 VT-d host with type1's `dma_entry_limit` raised (module parameter) for 10^6 mappings. */
export function benchHost(base: Host = qemuQ35VtdHost()): Host {
  return { ...base, params: { ...base.params, type1: { ...base.params.type1, dmaEntryLimit: 1 << 30 } } };
}

/** A map/unmap face over one context: 4 KiB page `i` of the arena at IOVA `iova`. */
export interface Face {
  readonly impl: string;
  map(iova: bigint, va: bigint, length: bigint): void;
  unmap(iova: bigint, length: bigint): void;
}

function arena(mem: AddressSpace, bytes: bigint): void {
  mem.mmap(ARENA, bytes, "rw");
}

/** type1 v2 on the typed API: container, group 1 (edu), SET_IOMMU → one VT-d domain. */
export function type1Typed(arenaBytes: bigint, host = benchHost()): Face {
  const vfio = new VfioSubsystem(host);
  const c = new VfioContainer(kernelFeatures(host.params.kernelRelease, true), host.params.type1);
  c.attachGroup(vfio.group(1)!);
  c.setIommu(3);
  const ctx = c.backend!;
  const memory = new AddressSpace();
  arena(memory, arenaBytes);
  const task: DmaTask = {
    memory,
    mm: { lockedVm: 0n },
    credentials: { capIpcLock: true },
    rlimitMemlock: 1n << 62n,
  };
  return {
    impl: "ioas-type1",
    map: (iova, vaddr, size) => ctx.map(task, { iova, vaddr, size, read: true, write: true }),
    unmap: (iova, size) => void ctx.unmap({ iova, size }),
  };
}

/** iommufd on the typed API: IOAS, edu bound and attached (automatic HWPT, one VT-d domain). */
export function iommufdTyped(
  arenaBytes: bigint,
  host = benchHost(),
): Face & { ctx: IommufdContext; ioas: number } {
  const ctx = new IommufdContext(host);
  const ioas = ctx.ioasAlloc();
  const edu = host.devices.find((d) => d.bdf === "0000:00:04.0")!;
  ctx.attachDevice(ctx.bindDevice(edu), ioas);
  const memory = new AddressSpace();
  arena(memory, arenaBytes);
  const src: PinSource = {
    memory,
    userAccount: { lockedVm: 0n },
    mmAccount: { lockedVm: 0n },
    capIpcLock: true,
    rlimitMemlock: 1n << 62n,
  };
  return {
    impl: "ioas-iommufd",
    ctx,
    ioas,
    map: (iova, userVa, length) =>
      void ctx.ioasMap(ioas, { iova, userVa, length, read: true, write: true }, src),
    unmap: (iova, length) => void ctx.ioasUnmap(ioas, iova, length),
  };
}

/** A process with the arena and a UserClient on a fresh simulated system. */
export function userProcess(arenaBytes: bigint, host = benchHost()): UserClient {
  return userSystem(arenaBytes, host).client;
}

export function userSystem(arenaBytes: bigint, host = benchHost()): { client: UserClient; sys: System } {
  const sys = createSystem(host);
  const p = sys.spawn({ credentials: { uid: 0, capIpcLock: true, capSysResource: true, capSysRawio: true } });
  arena(p.memory, arenaBytes);
  return { client: new UserClient(p), sys };
}

/** type1 v2 through the binary uAPI: /dev/vfio/vfio, group 1, SET_IOMMU, MAP_DMA/UNMAP_DMA. */
export function type1Uapi(arenaBytes: bigint, host = benchHost()): Face {
  const client = userProcess(arenaBytes, host);
  const container = client.open("/dev/vfio/vfio");
  const group = client.open("/dev/vfio/1");
  client.setContainer(group, container);
  client.setIommu(container, 3);
  const rw = { read: true, write: true };
  return {
    impl: "ioas-type1-uapi",
    map: (iova, va, size) => client.mapDma(container, va, iova, size, rw),
    unmap: (iova, size) => void client.unmapDma(container, iova, size),
  };
}

/** iommufd through the binary uAPI: /dev/iommu, IOAS_ALLOC, cdev bind + attach, IOAS_MAP/UNMAP. */
export function iommufdUapi(arenaBytes: bigint, host = benchHost()): Face {
  const client = userProcess(arenaBytes, host);
  const fd = client.open("/dev/iommu");
  const ioas = client.ioasAlloc(fd);
  const cdev = client.open("/dev/vfio/devices/vfio0");
  client.bind(cdev, fd);
  client.attach(cdev, ioas);
  const rw = { read: true, write: true };
  return {
    impl: "ioas-iommufd-uapi",
    map: (iova, va, length) => void client.ioasMap(fd, ioas, va, length, rw, iova),
    unmap: (iova, length) => void client.ioasUnmap(fd, ioas, iova, length),
  };
}
