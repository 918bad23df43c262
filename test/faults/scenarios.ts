/**
 * Transcribed fail-nth scenarios (iommufd_fail_nth.c and type1/compat equivalents), driven through
 * the binary uAPI (UserClient and raw ioctls) so that copy-out sites are swept too. Each step is
 * swept by `sweep` (src/core/fault-sweep.ts) against the whole-system snapshot.
 */

import { UserClient } from "../../src/client/user-api.js";
import { IoasError } from "../../src/core/errno.js";
import type { SweepScenario, SweepStep } from "../../src/core/fault-sweep.js";
import { amdHost, qemuQ35VtdHost } from "../../src/core/topology/presets.js";
import type { Host } from "../../src/core/topology/types.js";
import type { Process } from "../../src/process/process.js";
import { IommufdFile } from "../../src/uapi/iommufd/file.js";
import * as N from "../../src/uapi/numbers.js";
import type { FieldSpec, StructCodec, StructInput } from "../../src/uapi/struct.js";
import {
  iommuHwInfo,
  iommuHwptAlloc,
  iommuHwptGetDirtyBitmap,
  iommuHwptSetDirtyTracking,
  iommuIoasAllowIovas,
  iommuIovaRange,
} from "../../src/uapi/structs/iommufd.js";
import {
  vfioIommuType1DirtyBitmap,
  vfioIommuType1DirtyBitmapGet,
  vfioIommuType1DmaMap,
} from "../../src/uapi/structs/vfio.js";
import { createSystem, type Kernel } from "../../src/uapi/system.js";
import { isCopyOut } from "./sites.js";
import { systemSnapshotText } from "./system-snapshot.js";

const BUF = 0x10_0000_0000n;
const BUF_SIZE = 0x100_0000n; // 16 MiB of anonymous memory
const SCRATCH = 0x20_0000_0000n;
const PAGE = 0x1000n;
const EDU1 = "0000:00:04.0";
const EDU2 = "0000:00:05.0";

export interface World {
  kernel: Kernel;
  process: Process;
  client: UserClient;
  fd: Record<string, number>;
  id: Record<string, number>;
}

function world(unprivileged = false, host: Host = qemuQ35VtdHost()): World {
  const { kernel } = createSystem(host);
  // Unprivileged: no CAP_IPC_LOCK, so pins are charged to locked_vm (and can fail there).
  const process = kernel.spawn(
    unprivileged ? { credentials: { uid: 1000, capIpcLock: false }, rlimitMemlock: 64n << 20n } : {},
  );
  process.memory.mmap(BUF, BUF_SIZE, "rw", { label: "buffer" });
  process.memory.mmap(SCRATCH, 0x10000n, "rw", { label: "scratch" });
  return { kernel, process, client: new UserClient(process), fd: {}, id: {} };
}

/** A raw ioctl with `codec`-encoded bytes at SCRATCH; returns the struct as the kernel left it. */
function raw<F extends readonly FieldSpec[]>(
  w: World,
  fd: number,
  request: number,
  codec: StructCodec<F>,
  values: StructInput<F>,
  extra?: { at: bigint; bytes: Uint8Array },
): ReturnType<StructCodec<F>["decode"]> {
  w.process.memory.write(SCRATCH, codec.encode(values));
  if (extra) w.process.memory.write(extra.at, extra.bytes);
  const r = w.process.ioctl(fd, request, SCRATCH);
  if (r.errno) throw new IoasError(r.errno, N.ioctlName(request));
  return codec.decode(w.process.memory.read(SCRATCH, codec.size)) as ReturnType<StructCodec<F>["decode"]>;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const RW = { read: true, write: true };
const step = (name: string, run: (w: World) => void, partialOnError = false): SweepStep<World> => ({
  name,
  run,
  ...(partialOnError ? { partialOnError } : {}),
});

function scenario(
  name: string,
  steps: SweepStep<World>[],
  unprivileged = false,
  host?: () => Host,
): SweepScenario<World> {
  return {
    name,
    setup: () => world(unprivileged, host?.()),
    steps,
    snapshot: (w) => systemSnapshotText(w.kernel),
    committedOnError: isCopyOut,
  };
}

function ctxOf(w: World): IommufdFile {
  const f = w.process.lookupFile(w.fd["iommufd"]!);
  if (!(f instanceof IommufdFile)) throw new Error("no iommufd");
  return f;
}

// ---- native iommufd (iommufd_fail_nth.c) ----

const openIommufd = step("open /dev/iommu", (w) => void (w.fd["iommufd"] = w.client.open("/dev/iommu")));
const ioasAlloc = step("IOAS_ALLOC", (w) => void (w.id["ioas"] = w.client.ioasAlloc(w.fd["iommufd"]!)));
const bindDev = (dev: string, cdev: string, key: string): SweepStep<World> =>
  step(`open ${cdev} + BIND`, (w) => {
    const fd = w.client.open(cdev);
    try {
      w.id[key] = w.client.bind(fd, w.fd["iommufd"]!);
    } catch (e) {
      w.client.close(fd);
      throw e;
    }
    w.fd[key] = fd;
    void dev;
  });

export const iommufdBasic = scenario("iommufd basic", [
  openIommufd,
  ioasAlloc,
  step("IOVA_RANGES", (w) => void w.client.ioasIovaRanges(w.fd["iommufd"]!, w.id["ioas"]!)),
  step("ALLOW_IOVAS", (w) => {
    const ranges = concat(
      iommuIovaRange.encode({ start: 0x10000n, last: 0xfffffffn }),
      iommuIovaRange.encode({ start: 0x1_0000_0000n, last: 0x1_ffff_ffffn }),
    );
    raw(
      w,
      w.fd["iommufd"]!,
      N.IOMMU_IOAS_ALLOW_IOVAS,
      iommuIoasAllowIovas,
      {
        size: iommuIoasAllowIovas.size,
        ioas_id: w.id["ioas"]!,
        num_iovas: 2,
        allowed_iovas: SCRATCH + 0x100n,
      },
      { at: SCRATCH + 0x100n, bytes: ranges },
    );
  }),
  step(
    "ALLOW_IOVAS clear",
    (w) =>
      void raw(w, w.fd["iommufd"]!, N.IOMMU_IOAS_ALLOW_IOVAS, iommuIoasAllowIovas, {
        size: iommuIoasAllowIovas.size,
        ioas_id: w.id["ioas"]!,
      }),
  ),
  step(
    "MAP fixed",
    (w) => void w.client.ioasMap(w.fd["iommufd"]!, w.id["ioas"]!, BUF, 0x40000n, RW, 0x100000n),
  ),
  step(
    "MAP auto",
    (w) => void w.client.ioasMap(w.fd["iommufd"]!, w.id["ioas"]!, BUF + 0x40000n, 0x40000n, RW),
  ),
  step("IOAS_ALLOC 2", (w) => void (w.id["ioas2"] = w.client.ioasAlloc(w.fd["iommufd"]!))),
  step(
    "COPY",
    (w) => void w.client.ioasCopy(w.fd["iommufd"]!, w.id["ioas2"]!, w.id["ioas"]!, 0x100000n, 0x40000n, RW),
  ),
  step("UNMAP", (w) => void w.client.ioasUnmap(w.fd["iommufd"]!, w.id["ioas"]!, 0x100000n, 0x40000n)),
  step("UNMAP nothing", (w) => {
    try {
      w.client.ioasUnmap(w.fd["iommufd"]!, w.id["ioas"]!, 0x100000n, 0x40000n);
    } catch (e) {
      if (!(e instanceof IoasError && e.errno === "ENOENT")) throw e;
    }
  }),
  step("UNMAP all", (w) => void w.client.ioasUnmap(w.fd["iommufd"]!, w.id["ioas2"]!, 0n, (1n << 64n) - 1n)),
]);

export const iommufdMapDomain = scenario("iommufd map_domain", [
  openIommufd,
  ioasAlloc,
  bindDev(EDU1, "/dev/vfio/devices/vfio0", "dev"),
  step("ATTACH", (w) => void (w.id["hwpt"] = w.client.attach(w.fd["dev"]!, w.id["ioas"]!))),
  step(
    "MAP 256K",
    (w) => void w.client.ioasMap(w.fd["iommufd"]!, w.id["ioas"]!, BUF, 0x40000n, RW, 0x100000n),
  ),
  step("close device", (w) => w.client.close(w.fd["dev"]!)),
  bindDev(EDU1, "/dev/vfio/devices/vfio0", "dev2"),
  step("re-ATTACH (fills the new domain)", (w) => void w.client.attach(w.fd["dev2"]!, w.id["ioas"]!)),
  step("UNMAP", (w) => void w.client.ioasUnmap(w.fd["iommufd"]!, w.id["ioas"]!, 0x100000n, 0x40000n)),
]);

export const iommufdMapTwoDomains = scenario("iommufd map_two_domains", [
  openIommufd,
  ioasAlloc,
  bindDev(EDU1, "/dev/vfio/devices/vfio0", "dev"),
  step("ATTACH 1", (w) => void w.client.attach(w.fd["dev"]!, w.id["ioas"]!)),
  step("MAP", (w) => void w.client.ioasMap(w.fd["iommufd"]!, w.id["ioas"]!, BUF, 0x40000n, RW, 0x100000n)),
  bindDev(EDU2, "/dev/vfio/devices/vfio1", "dev2"),
  step("HWPT_ALLOC (second domain, filled)", (w) => {
    const out = raw(w, w.fd["iommufd"]!, N.IOMMU_HWPT_ALLOC, iommuHwptAlloc, {
      size: iommuHwptAlloc.size,
      dev_id: w.id["dev2"]!,
      pt_id: w.id["ioas"]!,
    });
    w.id["hwpt2"] = out.out_hwpt_id;
  }),
  step("ATTACH 2 to it", (w) => void w.client.attach(w.fd["dev2"]!, w.id["hwpt2"]!)),
  step(
    "MAP both",
    (w) => void w.client.ioasMap(w.fd["iommufd"]!, w.id["ioas"]!, BUF + 0x40000n, 0x40000n, RW),
  ),
  step("UNMAP all", (w) => void w.client.ioasUnmap(w.fd["iommufd"]!, w.id["ioas"]!, 0n, (1n << 64n) - 1n)),
]);

const accessSteps = (pin: boolean): SweepStep<World>[] => [
  openIommufd,
  ioasAlloc,
  step("MAP", (w) => void w.client.ioasMap(w.fd["iommufd"]!, w.id["ioas"]!, BUF, 0x40000n, RW, 0x100000n)),
  step("access create", (w) => {
    w.id["access"] = ctxOf(w).ctx.accessCreate(w.id["ioas"]!, { unmap: () => undefined }, pin);
  }),
  pin
    ? step("access pin", (w) => void ctxOf(w).ctx.accessPin(w.id["access"]!, 0x101000n, 0x3000n, true))
    : step("access rw", (w) => {
        const data = new Uint8Array(0x2100).fill(7);
        ctxOf(w).ctx.accessRw(w.id["access"]!, 0x100f00n, data, true);
        ctxOf(w).ctx.accessRw(w.id["access"]!, 0x100f00n, data, false);
      }),
  ...(pin
    ? [step("access unpin", (w) => ctxOf(w).ctx.accessUnpin(w.id["access"]!, 0x101000n, 0x3000n))]
    : []),
  step("access destroy", (w) => ctxOf(w).ctx.accessDestroy(w.id["access"]!)),
];

export const iommufdAccessRw = scenario("iommufd access_rw", accessSteps(false));
export const iommufdAccessPin = scenario("iommufd access_pin", accessSteps(true));

/** IOMMU_HWPT_ALLOC of a paging HWPT for device "dev" on IOAS "ioas"; its id becomes "hwpt". */
function hwptAlloc(w: World, flags: number): void {
  w.id["hwpt"] = raw(w, w.fd["iommufd"]!, N.IOMMU_HWPT_ALLOC, iommuHwptAlloc, {
    size: iommuHwptAlloc.size,
    flags,
    dev_id: w.id["dev"]!,
    pt_id: w.id["ioas"]!,
  }).out_hwpt_id;
}

export const iommufdDevice = scenario("iommufd device", [
  openIommufd,
  ioasAlloc,
  bindDev(EDU1, "/dev/vfio/devices/vfio0", "dev"),
  step("GET_HW_INFO", (w) => {
    raw(w, w.fd["iommufd"]!, N.IOMMU_GET_HW_INFO, iommuHwInfo, {
      size: iommuHwInfo.size,
      dev_id: w.id["dev"]!,
      data_len: 24,
      data_uptr: SCRATCH + 0x800n,
    });
  }),
  step("HWPT_ALLOC", (w) => hwptAlloc(w, 0)),
  step("ATTACH to IOAS (auto HWPT)", (w) => void w.client.attach(w.fd["dev"]!, w.id["ioas"]!)),
  step("MAP", (w) => void w.client.ioasMap(w.fd["iommufd"]!, w.id["ioas"]!, BUF, 0x40000n, RW, 0x100000n)),
  step("replace → HWPT", (w) => void w.client.attach(w.fd["dev"]!, w.id["hwpt"]!), true),
  step("IOAS_ALLOC 2", (w) => void (w.id["ioas2"] = w.client.ioasAlloc(w.fd["iommufd"]!))),
  step("replace → IOAS 2", (w) => void w.client.attach(w.fd["dev"]!, w.id["ioas2"]!), true),
]);

/**
 * HWPT dirty tracking (iommufd_dirty_tracking in the selftests) on an AMD-Vi host that has it: a
 * DIRTY_TRACKING HWPT, tracking on, a device write, GET_DIRTY_BITMAP (read-and-clear, then
 * NO_CLEAR), tracking off. The bitmap copy-out is the kernel's partial effect: bits already read
 * are cleared when a later copy fails.
 */
export const iommufdDirty = scenario(
  "iommufd dirty tracking",
  [
    openIommufd,
    ioasAlloc,
    bindDev("0000:01:00.0", "/dev/vfio/devices/vfio0", "dev"),
    step("HWPT_ALLOC DIRTY_TRACKING", (w) => hwptAlloc(w, N.IOMMU_HWPT_ALLOC_DIRTY_TRACKING)),
    step("ATTACH to the HWPT", (w) => void w.client.attach(w.fd["dev"]!, w.id["hwpt"]!)),
    step("MAP", (w) => void w.client.ioasMap(w.fd["iommufd"]!, w.id["ioas"]!, BUF, 0x40000n, RW, 0x100000n)),
    step("SET_DIRTY_TRACKING on", (w) => {
      raw(w, w.fd["iommufd"]!, N.IOMMU_HWPT_SET_DIRTY_TRACKING, iommuHwptSetDirtyTracking, {
        size: iommuHwptSetDirtyTracking.size,
        flags: N.IOMMU_HWPT_DIRTY_TRACKING_ENABLE,
        hwpt_id: w.id["hwpt"]!,
      });
      // The device dirties three pages (not a fallible step: DMA is the device's, not a syscall).
      const bdf = w.kernel.host.devices.find((d) => d.cdev === "/dev/vfio/devices/vfio0")!.bdf;
      const dev = w.kernel.devices.dma(bdf)!;
      for (const off of [0x0n, 0x5000n, 0x3f000n]) dev.write(0x100000n + off, new Uint8Array([0x5a]));
    }),
    ...[0, N.IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR].map((flags) =>
      step(
        `GET_DIRTY_BITMAP${flags ? " NO_CLEAR" : ""}`,
        (w) => {
          // The kernel only sets bits in the user's bitmap: start from a zeroed one.
          w.process.memory.write(SCRATCH + 0x1000n, new Uint8Array(8));
          raw(w, w.fd["iommufd"]!, N.IOMMU_HWPT_GET_DIRTY_BITMAP, iommuHwptGetDirtyBitmap, {
            size: iommuHwptGetDirtyBitmap.size,
            hwpt_id: w.id["hwpt"]!,
            flags,
            iova: 0x100000n,
            length: 0x40000n,
            page_size: PAGE,
            data: SCRATCH + 0x1000n,
          });
          // Pages 0, 5 and 63 were written: the first read reports and clears them; NO_CLEAR
          // after it finds nothing left.
          const bits = w.process.memory.read(SCRATCH + 0x1000n, 8);
          const want = flags ? [0, 0, 0, 0, 0, 0, 0, 0] : [0x21, 0, 0, 0, 0, 0, 0, 0x80];
          if (bits.join() !== want.join())
            throw new Error(`dirty bitmap ${bits.join()} (want ${want.join()})`);
        },
        true,
      ),
    ),
    step("SET_DIRTY_TRACKING off", (w) => {
      raw(w, w.fd["iommufd"]!, N.IOMMU_HWPT_SET_DIRTY_TRACKING, iommuHwptSetDirtyTracking, {
        size: iommuHwptSetDirtyTracking.size,
        flags: 0,
        hwpt_id: w.id["hwpt"]!,
      });
    }),
  ],
  false,
  () => amdHost({ dirtyTracking: true }),
);

// ---- type1 and compat (same steps, container = /dev/vfio/vfio or /dev/iommu) ----

function containerSteps(path: string, type: number, dirty: boolean): SweepStep<World>[] {
  const c = (w: World): number => w.fd["container"]!;
  const steps: SweepStep<World>[] = [
    step(`open ${path}`, (w) => void (w.fd["container"] = w.client.open(path))),
    step("open group 1 + SET_CONTAINER", (w) => {
      const g = w.client.open("/dev/vfio/1");
      try {
        w.client.setContainer(g, c(w));
      } catch (e) {
        w.client.close(g);
        throw e;
      }
      w.fd["group"] = g;
    }),
    step("SET_IOMMU", (w) => w.client.setIommu(c(w), type)),
    step("GET_DEVICE_FD", (w) => void (w.fd["dev"] = w.client.getDeviceFd(w.fd["group"]!, EDU1))),
    step("MAP_DMA", (w) => w.client.mapDma(c(w), BUF, 0x100000n, 0x40000n, RW)),
    step("MAP_DMA 2", (w) => w.client.mapDma(c(w), BUF + 0x40000n, 0x200000n, 0x200000n, RW)),
    step("open group 2 + SET_CONTAINER (second domain replayed)", (w) => {
      const g = w.client.open("/dev/vfio/2");
      try {
        w.client.setContainer(g, c(w));
      } catch (e) {
        w.client.close(g);
        throw e;
      }
      w.fd["group2"] = g;
    }),
    step("UNMAP_DMA", (w) => void w.client.unmapDma(c(w), 0x100000n, 0x40000n)),
  ];
  if (dirty) {
    const dirtyPages = (w: World, flags: number, extra?: Uint8Array): void => {
      const head = vfioIommuType1DirtyBitmap.encode({
        argsz: vfioIommuType1DirtyBitmap.size + (extra?.length ?? 0),
        flags,
      });
      w.process.memory.write(SCRATCH, extra ? concat(head, extra) : head);
      const r = w.process.ioctl(c(w), N.VFIO_IOMMU_DIRTY_PAGES, SCRATCH);
      if (r.errno) throw new IoasError(r.errno, "VFIO_IOMMU_DIRTY_PAGES");
    };
    steps.push(
      step("DIRTY start", (w) => dirtyPages(w, N.VFIO_IOMMU_DIRTY_PAGES_FLAG_START)),
      step(
        "DIRTY get bitmap",
        (w) =>
          dirtyPages(
            w,
            N.VFIO_IOMMU_DIRTY_PAGES_FLAG_GET_BITMAP,
            vfioIommuType1DirtyBitmapGet.encode({
              iova: 0x200000n,
              size: 0x200000n,
              bitmap_pgsize: PAGE,
              bitmap_size: 64n,
              bitmap_data: SCRATCH + 0x1000n,
            }),
          ),
        true,
      ),
      step("DIRTY stop", (w) => dirtyPages(w, N.VFIO_IOMMU_DIRTY_PAGES_FLAG_STOP)),
      step("MAP_DMA vaddr invalidate (unmap VADDR)", (w) => {
        void w.client.unmapDma(c(w), 0x200000n, 0x200000n, N.VFIO_DMA_UNMAP_FLAG_VADDR);
      }),
      step("MAP_DMA vaddr update", (w) => {
        w.process.memory.write(
          SCRATCH,
          vfioIommuType1DmaMap.encode({
            argsz: vfioIommuType1DmaMap.size,
            flags: N.VFIO_DMA_MAP_FLAG_VADDR,
            vaddr: BUF + 0x400000n,
            iova: 0x200000n,
            size: 0x200000n,
          }),
        );
        const r = w.process.ioctl(c(w), N.VFIO_IOMMU_MAP_DMA, SCRATCH);
        if (r.errno) throw new IoasError(r.errno, "VFIO_IOMMU_MAP_DMA");
      }),
    );
  }
  steps.push(step("UNMAP_DMA all", (w) => void w.client.unmapDma(c(w), 0n, 0n, N.VFIO_DMA_UNMAP_FLAG_ALL)));
  return steps;
}

export const type1V2 = scenario("type1 v2", containerSteps("/dev/vfio/vfio", N.VFIO_TYPE1v2_IOMMU, true));
export const type1V1 = scenario("type1 v1", containerSteps("/dev/vfio/vfio", N.VFIO_TYPE1_IOMMU, false));
export const compatV2 = scenario("compat v2", containerSteps("/dev/iommu", N.VFIO_TYPE1v2_IOMMU, false));
export const compatV1 = scenario("compat v1", containerSteps("/dev/iommu", N.VFIO_TYPE1_IOMMU, false));

export const iommufdBasicUser = scenario("iommufd basic (unprivileged)", iommufdBasic.steps.slice(), true);
export const type1V2User = scenario(
  "type1 v2 (unprivileged)",
  containerSteps("/dev/vfio/vfio", N.VFIO_TYPE1v2_IOMMU, true),
  true,
);

export const SCENARIOS: readonly SweepScenario<World>[] = [
  iommufdBasic,
  iommufdBasicUser,
  type1V2User,
  iommufdMapDomain,
  iommufdMapTwoDomains,
  iommufdAccessRw,
  iommufdAccessPin,
  iommufdDevice,
  iommufdDirty,
  type1V2,
  type1V1,
  compatV2,
  compatV1,
];
