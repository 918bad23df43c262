import { describe, expect, it } from "vitest";
import { IoasError } from "../../../src/core/errno.js";
import { withFaultInjection } from "../../../src/core/fault.js";
import { kernelFeatures } from "../../../src/core/kernel.js";
import { qemuQ35VtdHost, smmuHost, twoIommuHost } from "../../../src/core/topology/presets.js";
import type { Host, IommuUnit } from "../../../src/core/topology/types.js";
import { VfioContainer } from "../../../src/core/vfio/container.js";
import { VfioSubsystem } from "../../../src/core/vfio/subsystem.js";
import { PAGE_MASK, type DmaTask, type Type1Options } from "../../../src/core/vfio/type1.js";
import { AddressSpace } from "../../../src/process/memory.js";

const ARENA = 0x100_0000_0000n;
const MiB = 1n << 20n;

function task(opts: { capIpcLock?: boolean; rlimit?: bigint } = {}): DmaTask {
  const memory = new AddressSpace();
  memory.mmap(ARENA, 64n * MiB, "rw", { fill: 0x5a });
  memory.mmap(ARENA + 128n * MiB, 2n * MiB, "r");
  return {
    memory,
    mm: { lockedVm: 0n },
    credentials: { capIpcLock: opts.capIpcLock ?? true },
    rlimitMemlock: opts.rlimit ?? 1n << 62n,
  };
}

function setup(host: Host = qemuQ35VtdHost(), groups = [1], type = 3, options: Type1Options = {}) {
  const vfio = new VfioSubsystem(host);
  const c = new VfioContainer(kernelFeatures(host.params.kernelRelease, true), host.params.type1, options);
  for (const id of groups) c.attachGroup(vfio.group(id)!);
  c.setIommu(type);
  return { vfio, c, ctx: c.backend!, t: task() };
}

function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (e instanceof IoasError) return e.errno;
    throw e;
  }
}

/** The call fails with `errno` and leaves the container's snapshot exactly as it was. */
function expectFailsUnchanged(c: VfioContainer, errno: string, fn: () => unknown): void {
  const before = JSON.stringify(c.snapshot());
  expect(errnoOf(fn)).toBe(errno);
  expect(JSON.stringify(c.snapshot())).toBe(before);
}

const rw = { read: true, write: true };

describe("type1 container life cycle", () => {
  it("SET_IOMMU errnos: no group, unknown type, DMA_CC type, UNMAP_ALL type, second time", () => {
    const host = qemuQ35VtdHost();
    const vfio = new VfioSubsystem(host);
    const c = new VfioContainer(kernelFeatures(host.params.kernelRelease, true), host.params.type1);
    expect(errnoOf(() => c.setIommu(3))).toBe("EINVAL");
    c.attachGroup(vfio.group(1)!);
    expect(errnoOf(() => c.setIommu(99))).toBe("ENODEV");
    expect(errnoOf(() => c.setIommu(4))).toBe("ENODEV");
    expect(errnoOf(() => c.setIommu(9))).toBe("EINVAL");
    expect(errnoOf(() => c.setIommu(6))).toBe("EINVAL"); // nesting: VT-d cannot
    expect(c.backend).toBeNull();
    c.setIommu(3);
    expect(errnoOf(() => c.setIommu(1))).toBe("EINVAL");
  });

  it("CHECK_EXTENSION depends on the state (UPDATE_VADDR, DMA_CC)", () => {
    const host = qemuQ35VtdHost();
    const vfio = new VfioSubsystem(host);
    const c = new VfioContainer(kernelFeatures(host.params.kernelRelease, true), host.params.type1);
    expect([c.checkExtension(10), c.checkExtension(4), c.checkExtension(1), c.checkExtension(9)]).toEqual([
      0, 0, 1, 1,
    ]);
    c.attachGroup(vfio.group(1)!);
    c.setIommu(3);
    expect(c.checkExtension(10)).toBe(1);
    expect(c.checkExtension(4)).toBe(0); // QEMU VT-d has no snoop control
    c.detachGroup(vfio.group(1)!);
    expect(c.backend).toBeNull();
    expect(c.checkExtension(10)).toBe(0);
  });

  it("the last group leaving drops the backend and every mapping (and its locked pages)", () => {
    const { vfio, c, ctx, t } = setup(qemuQ35VtdHost(), [1, 2]);
    ctx.map(t, { vaddr: ARENA, iova: 0x100000n, size: 0x4000n, ...rw });
    expect(t.mm.lockedVm).toBe(4n);
    c.detachGroup(vfio.group(1)!);
    expect(c.backend?.mappings().length).toBe(1);
    c.detachGroup(vfio.group(2)!);
    expect(c.backend).toBeNull();
    expect(t.mm.lockedVm).toBe(0n);
  });

  it("refuses a non-viable group with EPERM and unsafe interrupts with EPERM", () => {
    const host = qemuQ35VtdHost({ interruptRemapping: false });
    const vfio = new VfioSubsystem(host);
    const c = new VfioContainer(kernelFeatures(host.params.kernelRelease, true), host.params.type1);
    c.attachGroup(vfio.group(1)!);
    expect(errnoOf(() => c.setIommu(3))).toBe("EPERM");
    const unsafe = qemuQ35VtdHost({ interruptRemapping: false, allowUnsafeInterrupts: true });
    expect(() => setup(unsafe)).not.toThrow();
  });
});

describe("type1 MAP_DMA", () => {
  it("check order: prot/VADDR, alignment, EEXIST before the IOVA-list check, ENOSPC", () => {
    const { c, ctx, t } = setup();
    ctx.map(t, { vaddr: ARENA, iova: 0xfed00000n, size: 0x100000n, ...rw });
    expectFailsUnchanged(c, "EINVAL", () =>
      ctx.map(t, { vaddr: ARENA, iova: 0x1000n, size: 0x1000n, read: false, write: false }),
    );
    expectFailsUnchanged(c, "EINVAL", () =>
      ctx.map(t, { vaddr: ARENA, iova: 0x1000n, size: 0x1000n, ...rw, vaddrUpdate: true }),
    );
    expectFailsUnchanged(c, "EINVAL", () =>
      ctx.map(t, { vaddr: ARENA + 0x800n, iova: 0x1000n, size: 0x1000n, ...rw }),
    );
    // Overlapping an existing mapping AND reaching into the MSI window: EEXIST wins.
    expectFailsUnchanged(c, "EEXIST", () =>
      ctx.map(t, { vaddr: ARENA, iova: 0xfedff000n, size: 0x2000n, ...rw }),
    );
    expectFailsUnchanged(c, "EINVAL", () =>
      ctx.map(t, { vaddr: ARENA, iova: 0xfee00000n, size: 0x1000n, ...rw }),
    );
    expectFailsUnchanged(c, "EINVAL", () =>
      ctx.map(t, { vaddr: ARENA, iova: 0xfffffffffffff000n, size: 0x2000n, ...rw }),
    );
    ctx.dmaAvail = 0;
    expectFailsUnchanged(c, "ENOSPC", () =>
      ctx.map(t, { vaddr: ARENA, iova: 0x1000n, size: 0x1000n, ...rw }),
    );
  });

  it("pins per mapping: EFAULT for unmapped or read-only memory mapped writable, nothing left charged", () => {
    const { c, ctx, t } = setup();
    expectFailsUnchanged(c, "EFAULT", () =>
      ctx.map(t, { vaddr: ARENA + 64n * MiB - 0x1000n, iova: 0x1000n, size: 0x2000n, ...rw }),
    );
    expectFailsUnchanged(c, "EFAULT", () =>
      ctx.map(t, { vaddr: ARENA + 128n * MiB, iova: 0x1000n, size: 0x1000n, ...rw }),
    );
    ctx.map(t, { vaddr: ARENA + 128n * MiB, iova: 0x1000n, size: 0x1000n, read: true, write: false });
    expect(t.mm.lockedVm).toBe(1n);
  });

  it("RLIMIT_MEMLOCK: ENOMEM without CAP_IPC_LOCK; CAP_IPC_LOCK still charges the mm", () => {
    const { c, ctx } = setup();
    const limited = task({ capIpcLock: false, rlimit: 0x2000n });
    ctx.map(limited, { vaddr: ARENA, iova: 0x1000n, size: 0x2000n, ...rw });
    expectFailsUnchanged(c, "ENOMEM", () =>
      ctx.map(limited, { vaddr: ARENA, iova: 0x10000n, size: 0x1000n, ...rw }),
    );
    const capped = task({ capIpcLock: true, rlimit: 0n });
    ctx.map(capped, { vaddr: ARENA, iova: 0x20000n, size: 0x3000n, ...rw });
    expect(capped.mm.lockedVm).toBe(3n);
    // The same pages mapped twice are charged twice.
    ctx.map(capped, { vaddr: ARENA, iova: 0x30000n, size: 0x3000n, ...rw });
    expect(capped.mm.lockedVm).toBe(6n);
  });

  it("maps really translate through the domain, to the pinned memory that outlives munmap", () => {
    const { ctx, t } = setup();
    ctx.map(t, { vaddr: ARENA, iova: 0x100000n, size: 0x2000n, ...rw });
    t.memory.munmap(ARENA, 0x2000n);
    const tr = ctx.domains[0]!.domain.translate(0x101234n);
    expect(tr?.object.read(tr.offset, 1)[0]).toBe(0x5a);
  });
});

describe("type1 UNMAP_DMA", () => {
  it("v2 refuses to cut a mapping (atomic), v2 empty range is success 0", () => {
    const { c, ctx, t } = setup();
    ctx.map(t, { vaddr: ARENA, iova: 0x100000n, size: 0x4000n, ...rw });
    ctx.map(t, { vaddr: ARENA, iova: 0x200000n, size: 0x2000n, ...rw });
    expectFailsUnchanged(c, "EINVAL", () => ctx.unmap({ iova: 0x101000n, size: 0x1000n }));
    expectFailsUnchanged(c, "EINVAL", () => ctx.unmap({ iova: 0x100000n, size: 0x101000n }));
    expect(ctx.unmap({ iova: 0x400000n, size: 0x1000n })).toBe(0n);
    expect(ctx.unmap({ iova: 0x100000n, size: 0x102000n })).toBe(0x6000n);
  });

  it("v1 never splits: a request starting inside a mapping removes nothing; a mapping starting inside goes whole", () => {
    const { ctx, t } = setup(qemuQ35VtdHost(), [1], 1);
    ctx.map(t, { vaddr: ARENA, iova: 0x300000n, size: 0x4000n, ...rw });
    expect(ctx.unmap({ iova: 0x301000n, size: 0x1000n })).toBe(0n);
    expect(ctx.mappings().length).toBe(1);
    expect(ctx.unmap({ iova: 0x300000n, size: 0x1000n })).toBe(0x4000n);
    expect(ctx.mappings().length).toBe(0);
    ctx.map(t, { vaddr: ARENA, iova: 0x300000n, size: 0x4000n, ...rw });
    ctx.map(t, { vaddr: ARENA, iova: 0x400000n, size: 0x1000n, ...rw });
    // Starts inside the first: the walk stops there, the second survives too.
    expect(ctx.unmap({ iova: 0x302000n, size: 0x200000n })).toBe(0n);
    expect(ctx.mappings().length).toBe(2);
  });

  it("UNMAP_ALL and the 2^64 wrap of the walk", () => {
    const { ctx, t } = setup();
    ctx.map(t, { vaddr: ARENA, iova: 0x100000n, size: 0x1000n, ...rw });
    expect(ctx.unmap({ iova: 0x1000n, size: 0xfffffffffffff000n })).toBe(0n);
    expect(errnoOf(() => ctx.unmap({ iova: 0n, size: 0x1000n, all: true }))).toBe("EINVAL");
    expect(ctx.unmap({ iova: 0n, size: 0n, all: true })).toBe(0x1000n);
    expect(ctx.dmaAvail).toBe(65535);
  });

  it("VADDR invalidate/update: all-or-nothing, exact match, attach refused meanwhile", () => {
    const host = qemuQ35VtdHost();
    const { vfio, c, ctx, t } = setup(host);
    ctx.map(t, { vaddr: ARENA, iova: 0x100000n, size: 0x1000n, ...rw });
    ctx.map(t, { vaddr: ARENA, iova: 0x200000n, size: 0x1000n, ...rw });
    expect(ctx.unmap({ iova: 0x100000n, size: 0x1000n, invalidateVaddr: true })).toBe(0x1000n);
    // The second walk meets the already invalid one: every mark of this call is undone.
    expectFailsUnchanged(c, "EINVAL", () => ctx.unmap({ iova: 0n, size: 0x400000n, invalidateVaddr: true }));
    expectFailsUnchanged(c, "EBUSY", () => c.attachGroup(vfio.group(2)!));
    expectFailsUnchanged(c, "ENOENT", () =>
      ctx.map(t, {
        vaddr: ARENA,
        iova: 0x500000n,
        size: 0x1000n,
        read: false,
        write: false,
        vaddrUpdate: true,
      }),
    );
    expectFailsUnchanged(c, "EINVAL", () =>
      ctx.map(t, {
        vaddr: ARENA,
        iova: 0x200000n,
        size: 0x1000n,
        read: false,
        write: false,
        vaddrUpdate: true,
      }),
    );
    ctx.map(t, {
      vaddr: ARENA + 0x1000n,
      iova: 0x100000n,
      size: 0x1000n,
      read: false,
      write: false,
      vaddrUpdate: true,
    });
    expect(ctx.vaddrInvalidCount).toBe(0);
    c.attachGroup(vfio.group(2)!);
  });
});

describe("type1 group attach (§2.2) and seed 002", () => {
  it("a group whose reserved region meets a mapping is refused with EINVAL naming both", () => {
    const host = twoIommuHost();
    const vfio = new VfioSubsystem(host);
    const c = new VfioContainer(kernelFeatures(host.params.kernelRelease, true), host.params.type1);
    c.attachGroup(vfio.group(1)!);
    c.setIommu(3);
    const t = task();
    // Above 39 bits: fine for dmar0 (48-bit), outside dmar1's aperture.
    c.backend!.map(t, { vaddr: ARENA, iova: 1n << 40n, size: 0x1000n, ...rw });
    const before = JSON.stringify(c.snapshot());
    let err: unknown;
    try {
      c.attachGroup(vfio.group(3)!);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IoasError);
    expect((err as IoasError).errno).toBe("EINVAL");
    expect((err as IoasError).detail?.["mapping"]).toEqual({ iova: 1n << 40n, size: 0x1000n });
    expect(JSON.stringify(c.snapshot())).toBe(before);
  });

  it("incompatible IOMMUs get one domain each and every mapping is mirrored", () => {
    const host = twoIommuHost();
    const { c, ctx, t, vfio } = setup(host, [1, 2, 3]);
    expect(ctx.domains.map((d) => d.groups.map((g) => g.id))).toEqual([[1, 2], [3]]);
    ctx.map(t, { vaddr: ARENA, iova: 0x100000n, size: 0x3000n, ...rw });
    for (const d of ctx.domains) expect(d.domain.translate(0x102000n)).toBeDefined();
    // Pinned and charged once, whatever the number of domains.
    expect(t.mm.lockedVm).toBe(3n);
    // The IOVA list is the intersection: clipped to 39 bits.
    expect(ctx.iovaList.at(-1)!.last).toBe((1n << 39n) - 1n);
    // Removing the 39-bit domain's group lets the list grow back to 48 bits.
    c.detachGroup(vfio.group(3)!);
    expect(ctx.domains.length).toBe(1);
    expect(ctx.iovaList.at(-1)!.last).toBe((1n << 48n) - 1n);
    expect(ctx.pgsizeBitmap).not.toBe(PAGE_MASK);
  });

  it("a map failing in the N-th domain unwinds the earlier ones (fault injection sweep)", () => {
    const host = twoIommuHost();
    for (let n = 1; ; n++) {
      const { c, ctx, t } = setup(host, [1, 3]);
      const before = JSON.stringify(c.snapshot());
      const { injector } = withFaultInjection(n, () => {
        try {
          ctx.map(t, { vaddr: ARENA, iova: 0x100000n, size: 0x3000n, ...rw });
        } catch (e) {
          if (!(e instanceof IoasError)) throw e;
        }
      });
      if (injector.failedSite === undefined) break;
      expect(JSON.stringify(c.snapshot())).toBe(before);
      expect(t.mm.lockedVm).toBe(0n);
      for (const d of ctx.domains) expect(d.domain.mappedExtents).toBe(0);
    }
  });

  it("group attach failing at any step leaves the context unchanged (fault injection sweep)", () => {
    const host = twoIommuHost();
    for (let n = 1; ; n++) {
      const { vfio, c, ctx, t } = setup(host, [1]);
      ctx.map(t, { vaddr: ARENA, iova: 0x100000n, size: 0x3000n, ...rw });
      const before = JSON.stringify(c.snapshot());
      const { injector } = withFaultInjection(n, () => {
        try {
          c.attachGroup(vfio.group(3)!);
        } catch (e) {
          if (!(e instanceof IoasError)) throw e;
        }
      });
      if (injector.failedSite === undefined) break;
      expect(JSON.stringify(c.snapshot())).toBe(before);
    }
  });
});

/** Two SMMUs with different drivers: two domains, each with a sw-MSI doorbell. */
function twoSmmuHost(): Host {
  const base = smmuHost();
  const unit = base.iommus[0]!;
  const other: IommuUnit = { ...unit, name: "smmu3.other", driver: `${unit.driver}-b` };
  const moved = base.devices.find((d) => d.group === 2)!;
  return {
    ...base,
    iommus: [unit, other],
    devices: base.devices.map((d) => (d.bdf === moved.bdf ? { ...d, iommu: other.name } : d)),
  };
}

describe("sw-MSI and seed 003 (MSI_RESERVED_IOVA, opt-in)", () => {
  it("each domain of a sw-MSI platform maps the doorbell at the window base", () => {
    const host = smmuHost({ allowUnsafeInterrupts: true });
    const groups = new VfioSubsystem(host).groups.filter((g) => g.viable).map((g) => g.id);
    const { ctx } = setup(host, groups.slice(0, 1));
    const d = ctx.domains[0]!;
    expect(d.msiCookie).toBe(0x8000000n);
    expect(d.domain.translate(0x8000000n)?.write).toBe(true);
  });

  it("is refused when not enabled, and registered in every domain or none", () => {
    const host = twoSmmuHost();
    const groups = new VfioSubsystem(host).groups.filter((g) => g.viable).map((g) => g.id);
    const off = setup(host, groups);
    expect(errnoOf(() => off.ctx.reserveMsiIova(0x10000000n, 0x100000n))).toBe("EINVAL");
    const failedAt = new Set<unknown>();
    for (let n = 1; ; n++) {
      const { c, ctx } = setup(host, groups, 3, { msiReservedIova: true });
      expect(ctx.domains.length).toBe(2);
      const before = JSON.stringify(c.snapshot());
      let err: IoasError | undefined;
      const { injector } = withFaultInjection(n, () => {
        try {
          ctx.reserveMsiIova(0x10000000n, 0x100000n);
        } catch (e) {
          if (!(e instanceof IoasError)) throw e;
          err = e;
        }
      });
      if (injector.failedSite === undefined) {
        expect(ctx.domains.every((d) => d.msiCookie === 0x10000000n)).toBe(true);
        expect(ctx.domains.every((d) => d.domain.translate(0x8000000n) === undefined)).toBe(true);
        // Both the first and the second domain were made to fail along the sweep.
        expect([...failedAt].sort()).toEqual([0, 1]);
        break;
      }
      failedAt.add(err?.detail?.["registered"]);
      expect(JSON.stringify(c.snapshot())).toBe(before);
      expect(ctx.domains.every((d) => d.domain.translate(0x10000000n) === undefined)).toBe(true);
    }
  });
});

describe("type1 domains show the container's dmas", () => {
  it("a one-run dma is in every domain at once; a two-VMA dma has its own segments; merged in order", () => {
    const host = twoIommuHost();
    const { ctx, t } = setup(host, [1, 2, 3]);
    const [a, b] = ctx.domains.map((d) => d.domain);
    // Two VMAs behind one mapping: pinned in two runs.
    t.memory.mmap(ARENA + 200n * MiB, 0x1000n, "rw", { fill: 1 });
    t.memory.mmap(ARENA + 200n * MiB + 0x1000n, 0x1000n, "rw", { fill: 2 });
    ctx.map(t, { vaddr: ARENA + 200n * MiB, iova: 0x200000n, size: 0x2000n, ...rw });
    ctx.map(t, { vaddr: ARENA, iova: 0x100000n, size: 0x3000n, ...rw });
    ctx.map(t, { vaddr: ARENA + 0x3000n, iova: 0x300000n, size: 0x1000n, ...rw });
    for (const d of [a!, b!]) {
      expect(d.translations().map((x) => [x.start, x.last])).toEqual([
        [0x100000n, 0x102fffn],
        [0x200000n, 0x200fffn],
        [0x201000n, 0x201fffn],
        [0x300000n, 0x300fffn],
      ]);
      expect(d.mappedExtents).toBe(4);
      expect(d.translate(0x201000n)?.object.fill).toBe(2);
      expect(d.translate(0x102345n)?.offset).toBe(d.translate(0x100000n)!.offset + 0x2345n);
    }
    ctx.unmap({ iova: 0x100000n, size: 0x3000n });
    ctx.unmap({ iova: 0x200000n, size: 0x2000n });
    for (const d of [a!, b!]) {
      expect(d.translate(0x100000n)).toBeUndefined();
      expect(d.translate(0x201000n)).toBeUndefined();
      expect(d.mappedExtents).toBe(1);
    }
  });

  it("a detached group's domain stops showing the mappings; a failing second domain maps nothing", () => {
    const host = twoIommuHost();
    const { c, ctx, t, vfio } = setup(host, [1, 2, 3]);
    ctx.map(t, { vaddr: ARENA, iova: 0x100000n, size: 0x1000n, ...rw });
    const gone = ctx.domains[1]!.domain;
    expect(gone.translate(0x100000n)).toBeDefined();
    c.detachGroup(vfio.group(3)!);
    expect(gone.translate(0x100000n)).toBeUndefined();
    expect(gone.mappedExtents).toBe(0);
    expect(ctx.domains[0]!.domain.translate(0x100000n)).toBeDefined();
    // Back to two domains; fail each fallible step of a map in turn (the second domain's map among
    // them): every failure leaves no domain showing the mapping and the container as it was.
    c.attachGroup(vfio.group(3)!);
    const before = JSON.stringify(c.snapshot());
    const failed: string[] = [];
    for (let n = 1; n < 20; n++) {
      const { result, injector } = withFaultInjection(n, () =>
        errnoOf(() => ctx.map(t, { vaddr: ARENA + 0x1000n, iova: 0x400000n, size: 0x1000n, ...rw })),
      );
      if (injector.failedSite === undefined) {
        expect(result).toBeUndefined(); // the clean run maps
        break;
      }
      failed.push(injector.failedSite);
      expect(result).toBeDefined();
      expect(JSON.stringify(c.snapshot())).toBe(before);
      for (const d of ctx.domains) expect(d.domain.translate(0x400000n)).toBeUndefined();
    }
    expect(failed.filter((f) => f === "domain.map")).toHaveLength(2);
    for (const d of ctx.domains) expect(d.domain.translate(0x400000n)).toBeDefined();
  });
});
