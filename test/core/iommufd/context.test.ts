/**
 * The iommufd selftest scenarios (semantics.md §5.1) on the typed API, plus accounting, the partial
 * unmap effect, and "a failing call changes nothing" (snapshots and a fail-nth sweep).
 */

import { describe, expect, it } from "vitest";
import { IoasError } from "../../../src/core/errno.js";
import { withFaultInjection } from "../../../src/core/fault.js";
import { IommufdContext } from "../../../src/core/iommufd/context.js";
import type { PinSource } from "../../../src/core/iommufd/pages.js";
import { qemuQ35VtdHost } from "../../../src/core/topology/presets.js";
import type { Host, PciDevice } from "../../../src/core/topology/types.js";
import { U64_MAX } from "../../../src/core/u64.js";
import { AddressSpace } from "../../../src/process/memory.js";

const PAGE = 4096n;
const BUF = 0x10000000000n;
const MSI = { start: 0xfee00000n, last: 0xfeefffffn };

function setup(opts: { capIpcLock?: boolean; rlimitPages?: bigint; host?: Host } = {}): {
  ctx: IommufdContext;
  src: PinSource;
  host: Host;
  edu: PciDevice;
  edu2: PciDevice;
  mem: AddressSpace;
} {
  const host = opts.host ?? qemuQ35VtdHost();
  const mem = new AddressSpace();
  mem.mmap(BUF, 64n << 20n, "rw", { fill: 0x5a });
  mem.mmap(BUF + (128n << 20n), 2n << 20n, "r");
  const src: PinSource = {
    memory: mem,
    userAccount: { lockedVm: 0n },
    mmAccount: { lockedVm: 0n },
    capIpcLock: opts.capIpcLock ?? false,
    rlimitMemlock: (opts.rlimitPages ?? 1n << 40n) * PAGE,
  };
  const edu = host.devices.find((d) => d.bdf === "0000:00:04.0")!;
  const edu2 = host.devices.find((d) => d.bdf === "0000:00:05.0")!;
  return { ctx: new IommufdContext(host), src, host, edu, edu2, mem };
}

function errno(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof IoasError) return e.errno;
    throw e;
  }
  return "ok";
}

/** Run `fn` expecting an errno; the context snapshot must not change. */
function failsCleanly(ctx: IommufdContext, fn: () => unknown): string {
  const before = JSON.stringify(ctx.snapshot());
  const r = errno(fn);
  expect(r).not.toBe("ok");
  expect(JSON.stringify(ctx.snapshot())).toBe(before);
  return r;
}

const rw = { read: true, write: true };

describe("iommufd context: objects and ids", () => {
  it("hands out the lowest free id and reuses destroyed ones", () => {
    const { ctx } = setup();
    expect(ctx.ioasAlloc()).toBe(1);
    expect(ctx.ioasAlloc()).toBe(2);
    ctx.destroy(1);
    expect(ctx.ioasAlloc()).toBe(1);
    expect(errno(() => ctx.destroy(0))).toBe("ENOENT");
    expect(errno(() => ctx.destroy(99))).toBe("ENOENT");
  });

  it("ioas_destroy / ioas_area_destroy: EBUSY with a device, fine without", () => {
    const { ctx, src, edu } = setup();
    const ioas = ctx.ioasAlloc();
    ctx.ioasMap(ioas, { userVa: BUF, length: PAGE, iova: 0x100000n, ...rw }, src);
    const dev = ctx.bindDevice(edu);
    const hwpt = ctx.attachDevice(dev, ioas);
    expect(failsCleanly(ctx, () => ctx.destroy(ioas))).toBe("EBUSY");
    expect(failsCleanly(ctx, () => ctx.destroy(hwpt))).toBe("EBUSY");
    expect(failsCleanly(ctx, () => ctx.destroy(dev))).toBe("EBUSY");
    ctx.detachDevice(dev);
    expect(errno(() => ctx.hwpt(hwpt))).toBe("ENOENT"); // the automatic HWPT went with its device
    ctx.destroy(ioas);
  });
});

describe("iommufd context: map / unmap (selftest area, unmap_fully_contained_areas)", () => {
  it("area: unmap of nothing is ENOENT, partial area is ENOENT, unmap-all succeeds even empty", () => {
    const { ctx, src } = setup();
    const ioas = ctx.ioasAlloc();
    for (let i = 0n; i < 10n; i++) expect(errno(() => ctx.ioasUnmap(ioas, i * PAGE, PAGE))).toBe("ENOENT");
    for (let i = 0n; i < 10n; i++)
      ctx.ioasMap(ioas, { userVa: BUF + i * PAGE, length: PAGE, iova: 0x100000n + i * PAGE, ...rw }, src);
    for (let i = 0n; i < 10n; i++) expect(ctx.ioasUnmap(ioas, 0x100000n + i * PAGE, PAGE)).toBe(PAGE);
    ctx.ioasMap(ioas, { userVa: BUF, length: 2n * PAGE, iova: 0x200000n, ...rw }, src);
    expect(failsCleanly(ctx, () => ctx.ioasUnmap(ioas, 0x200000n, PAGE))).toBe("ENOENT");
    expect(failsCleanly(ctx, () => ctx.ioasUnmap(ioas, 0x201000n, PAGE))).toBe("ENOENT");
    // over-map patterns
    for (const [iova, len] of [
      [0x200000n, PAGE],
      [0x1ff000n, 2n * PAGE],
      [0x201000n, 2n * PAGE],
      [0x1ff000n, 4n * PAGE],
      [0x200000n, 2n * PAGE],
    ] as const)
      expect(failsCleanly(ctx, () => ctx.ioasMap(ioas, { userVa: BUF, length: len, iova, ...rw }, src))).toBe(
        "EEXIST",
      );
    expect(ctx.ioasUnmap(ioas, 0n, U64_MAX)).toBe(2n * PAGE);
    expect(ctx.ioasUnmap(ioas, 0n, U64_MAX)).toBe(0n);
  });

  it("unmap_fully_contained_areas: superset rule, gaps allowed", () => {
    const { ctx, src } = setup();
    const ioas = ctx.ioasAlloc();
    for (let i = 0n; i < 4n; i++)
      ctx.ioasMap(ioas, { userVa: BUF, length: 8n * PAGE, iova: 0x100000n + i * 16n * PAGE, ...rw }, src);
    expect(failsCleanly(ctx, () => ctx.ioasUnmap(ioas, 0x100000n + 4n * PAGE, 60n * PAGE))).toBe("ENOENT");
    expect(ctx.ioasUnmap(ioas, 0x100000n, 64n * PAGE)).toBe(32n * PAGE);
  });

  it("keeps the kernel's partial effect when a later area crosses the range end (Appendix B.1)", () => {
    const { ctx, src } = setup();
    const ioas = ctx.ioasAlloc();
    ctx.ioasMap(ioas, { userVa: BUF, length: PAGE, iova: 0x100000n, ...rw }, src);
    ctx.ioasMap(ioas, { userVa: BUF, length: 4n * PAGE, iova: 0x102000n, ...rw }, src);
    let err: unknown;
    try {
      ctx.ioasUnmap(ioas, 0x100000n, 0x3000n);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IoasError);
    expect((err as IoasError).errno).toBe("ENOENT");
    expect((err as IoasError).detail?.["unmapped"]).toBe(PAGE);
    expect(ctx.ioas(ioas).iopt.areas.size).toBe(1); // the first area is gone
  });

  it("checks in the kernel's order: overflow, permissions, IOAS, length, alignment", () => {
    const { ctx, src } = setup();
    const ioas = ctx.ioasAlloc();
    expect(errno(() => ctx.ioasMap(ioas, { userVa: BUF, length: U64_MAX, ...rw }, src))).toBe("EOVERFLOW");
    expect(errno(() => ctx.ioasMap(ioas, { userVa: BUF, length: PAGE, iova: U64_MAX, ...rw }, src))).toBe(
      "EOVERFLOW",
    );
    expect(errno(() => ctx.ioasMap(99, { userVa: BUF, length: PAGE, read: false, write: false }, src))).toBe(
      "EINVAL",
    );
    expect(errno(() => ctx.ioasMap(99, { userVa: BUF, length: PAGE, ...rw }, src))).toBe("ENOENT");
    expect(errno(() => ctx.ioasMap(ioas, { userVa: BUF, length: 0n, ...rw }, src))).toBe("EINVAL");
    expect(
      errno(() => ctx.ioasMap(ioas, { userVa: U64_MAX - PAGE, length: 2n * PAGE, iova: 0n, ...rw }, src)),
    ).toBe("EOVERFLOW");
    expect(errno(() => ctx.ioasUnmap(ioas, 0x1000n, 0n))).toBe("EINVAL");
    expect(errno(() => ctx.ioasUnmap(ioas, U64_MAX - PAGE, 2n * PAGE))).toBe("EOVERFLOW");
  });
});

describe("iommufd context: automatic IOVA and allowed ranges", () => {
  it("area_auto_iova: aligned to the length's power of two, never IOVA 0, capped at THP", () => {
    const { ctx, src } = setup();
    const ioas = ctx.ioasAlloc();
    expect(ctx.ioasMap(ioas, { userVa: BUF, length: PAGE, ...rw }, src)).toBe(0x1000n);
    expect(ctx.ioasMap(ioas, { userVa: BUF + 0x200000n, length: 0x200000n, ...rw }, src)).toBe(0x200000n);
    expect(ctx.ioasMap(ioas, { userVa: BUF, length: 0x2000000n, ...rw }, src)).toBe(0x400000n);
    expect(ctx.ioasMap(ioas, { userVa: BUF + 0x3000n, length: 0x10000n, ...rw }, src)).toBe(0x2000n);
  });

  it("area_allowed: allocations stay inside the allow-list; fixed maps ignore it", () => {
    const { ctx, src } = setup();
    const ioas = ctx.ioasAlloc();
    ctx.ioasAllowIovas(ioas, [{ start: 0x40000000n, last: 0x40ffffffn }]);
    expect(ctx.ioasMap(ioas, { userVa: BUF, length: PAGE, ...rw }, src)).toBe(0x40000000n);
    expect(failsCleanly(ctx, () => ctx.ioasMap(ioas, { userVa: BUF, length: 0x2000000n, ...rw }, src))).toBe(
      "ENOSPC",
    );
    expect(ctx.ioasMap(ioas, { userVa: BUF, length: PAGE, iova: 0n, ...rw }, src)).toBe(0n);
    expect(
      failsCleanly(ctx, () =>
        ctx.ioasAllowIovas(ioas, [
          { start: 0x100000n, last: 0x2fffffffn },
          { start: 0x200000n, last: 0x3fffffffn },
        ]),
      ),
    ).toBe("EINVAL");
    expect(failsCleanly(ctx, () => ctx.ioasAllowIovas(ioas, [{ start: 5n, last: 5n }]))).toBe("EINVAL");
    ctx.ioasAllowIovas(ioas, []);
  });

  it("allowed ranges and device reservations exclude each other (EADDRINUSE both ways)", () => {
    const { ctx, edu } = setup();
    const ioas = ctx.ioasAlloc();
    const dev = ctx.bindDevice(edu);
    ctx.ioasAllowIovas(ioas, [{ start: 0xfe000000n, last: 0xffffffffn }]);
    expect(failsCleanly(ctx, () => ctx.attachDevice(dev, ioas))).toBe("EADDRINUSE");
    ctx.ioasAllowIovas(ioas, []);
    ctx.attachDevice(dev, ioas);
    expect(
      failsCleanly(ctx, () => ctx.ioasAllowIovas(ioas, [{ start: 0xfe000000n, last: 0xffffffffn }])),
    ).toBe("EADDRINUSE");
  });

  it("iova_ranges: one full range and alignment 1 without a domain; aperture minus MSI with one", () => {
    const { ctx, edu } = setup();
    const ioas = ctx.ioasAlloc();
    expect(ctx.ioasIovaRanges(ioas)).toEqual({ ranges: [{ start: 0n, last: U64_MAX }], alignment: 1n });
    ctx.attachDevice(ctx.bindDevice(edu), ioas);
    expect(ctx.ioasIovaRanges(ioas)).toEqual({
      ranges: [
        { start: 0n, last: MSI.start - 1n },
        { start: MSI.last + 1n, last: (1n << 39n) - 1n },
      ],
      alignment: PAGE,
    });
  });

  it("ioas_iova_alloc: with a 4 KiB domain only page multiples; without, any length", () => {
    const { ctx, src, edu } = setup();
    const plain = ctx.ioasAlloc();
    const withDomain = ctx.ioasAlloc();
    ctx.attachDevice(ctx.bindDevice(edu), withDomain);
    for (const len of [1n, 2048n, 4095n, 4096n, 8191n, 8192n]) {
      expect(errno(() => ctx.ioasMap(plain, { userVa: BUF, length: len, ...rw }, src))).toBe("ok");
      expect(errno(() => ctx.ioasMap(withDomain, { userVa: BUF, length: len, ...rw }, src))).toBe(
        len % PAGE === 0n ? "ok" : "EINVAL",
      );
    }
  });

  it("ioas_align_change: HUGE_PAGES=0 raises the alignment; misaligned mappings refuse it", () => {
    const { ctx, src } = setup();
    const ioas = ctx.ioasAlloc();
    ctx.ioasMap(ioas, { userVa: BUF, length: PAGE, iova: 0x100000n, ...rw }, src);
    ctx.setHugePages(ioas, false);
    expect(ctx.ioasIovaRanges(ioas).alignment).toBe(PAGE);
    expect(
      failsCleanly(ctx, () => ctx.ioasMap(ioas, { userVa: BUF, length: PAGE, iova: 0x200800n, ...rw }, src)),
    ).toBe("EINVAL");
    ctx.setHugePages(ioas, true);
    ctx.ioasMap(ioas, { userVa: BUF, length: PAGE, iova: 0x200800n, ...rw }, src);
    expect(failsCleanly(ctx, () => ctx.setHugePages(ioas, false))).toBe("EADDRINUSE");
  });
});

describe("iommufd context: copy (copy_area, copy_sweep, EPERM)", () => {
  it("copies inside one IOAS and into another; sub-ranges and runs of areas are fine", () => {
    const { ctx, src } = setup();
    const a = ctx.ioasAlloc();
    const b = ctx.ioasAlloc();
    ctx.ioasMap(a, { userVa: BUF, length: 4n * PAGE, iova: 0x100000n, ...rw }, src);
    ctx.ioasMap(a, { userVa: BUF, length: 4n * PAGE, iova: 0x104000n, ...rw }, src);
    expect(ctx.ioasCopy(a, a, { length: PAGE, srcIova: 0x100000n, dstIova: 0x200000n, ...rw })).toBe(
      0x200000n,
    );
    expect(ctx.ioasCopy(b, a, { length: 8n * PAGE, srcIova: 0x100000n, dstIova: 0n, ...rw })).toBe(0n);
    expect(ctx.ioasCopy(b, a, { length: 2n * PAGE, srcIova: 0x103000n, ...rw })).toBe(0x2000n + 0x6000n);
  });

  it("copy_sweep: a window leaving the mapping is ENOENT", () => {
    const { ctx, src } = setup();
    const a = ctx.ioasAlloc();
    const b = ctx.ioasAlloc();
    const base = 0x100000n;
    ctx.ioasMap(a, { userVa: BUF, length: 4n * PAGE, iova: base, ...rw }, src);
    for (let off = base - 4096n; off < base + 5n * PAGE; off += 511n) {
      const inside = off >= base && off + 2048n <= base + 4n * PAGE;
      const r = errno(() => ctx.ioasCopy(b, a, { length: 2048n, srcIova: off, dstIova: 0x800000n, ...rw }));
      expect(r).toBe(inside ? "ok" : "ENOENT");
      if (r === "ok") ctx.ioasUnmap(b, 0n, U64_MAX);
    }
  });

  it("refuses WRITEABLE copies of read-only pages (EPERM)", () => {
    const { ctx, src } = setup();
    const a = ctx.ioasAlloc();
    ctx.ioasMap(a, { userVa: BUF, length: PAGE, iova: 0x100000n, read: true, write: false }, src);
    expect(
      failsCleanly(ctx, () =>
        ctx.ioasCopy(a, a, { length: PAGE, srcIova: 0x100000n, dstIova: 0x200000n, ...rw }),
      ),
    ).toBe("EPERM");
    ctx.ioasCopy(a, a, { length: PAGE, srcIova: 0x100000n, dstIova: 0x200000n, read: true, write: false });
  });
});

describe("iommufd context: pinning and accounting", () => {
  it("pins lazily: nothing without a domain, EFAULT surfaces at attach", () => {
    const { ctx, src, edu } = setup();
    const ioas = ctx.ioasAlloc();
    ctx.ioasMap(ioas, { userVa: BUF + (100n << 20n), length: PAGE, iova: 0x100000n, ...rw }, src);
    expect(src.userAccount.lockedVm).toBe(0n);
    const dev = ctx.bindDevice(edu);
    expect(failsCleanly(ctx, () => ctx.attachDevice(dev, ioas))).toBe("EFAULT");
    ctx.ioasUnmap(ioas, 0n, U64_MAX);
    ctx.attachDevice(dev, ioas);
  });

  it("charges each page once (COPY shares), uncharges on unmap, enforces RLIMIT_MEMLOCK", () => {
    const { ctx, src, edu } = setup({ rlimitPages: 8n });
    const a = ctx.ioasAlloc();
    ctx.attachDevice(ctx.bindDevice(edu), a);
    ctx.ioasMap(a, { userVa: BUF, length: 4n * PAGE, iova: 0x100000n, ...rw }, src);
    expect(src.userAccount.lockedVm).toBe(4n);
    ctx.ioasCopy(a, a, { length: 4n * PAGE, srcIova: 0x100000n, dstIova: 0x200000n, ...rw });
    expect(src.userAccount.lockedVm).toBe(4n);
    expect(
      failsCleanly(ctx, () =>
        ctx.ioasMap(a, { userVa: BUF, length: 5n * PAGE, iova: 0x300000n, ...rw }, src),
      ),
    ).toBe("ENOMEM");
    expect(src.userAccount.lockedVm).toBe(4n);
    ctx.ioasUnmap(a, 0x100000n, 4n * PAGE);
    expect(src.userAccount.lockedVm).toBe(4n); // the copy still holds them
    ctx.ioasUnmap(a, 0n, U64_MAX);
    expect(src.userAccount.lockedVm).toBe(0n);
  });

  it("CAP_IPC_LOCK: no charge at all; mm mode charges the mm", () => {
    const s1 = setup({ capIpcLock: true, rlimitPages: 1n });
    const a = s1.ctx.ioasAlloc();
    s1.ctx.attachDevice(s1.ctx.bindDevice(s1.edu), a);
    s1.ctx.ioasMap(a, { userVa: BUF, length: 16n * PAGE, ...rw }, s1.src);
    expect(s1.src.userAccount.lockedVm).toBe(0n);
    const s2 = setup();
    s2.ctx.setRlimitMode(1n, true);
    const b = s2.ctx.ioasAlloc();
    s2.ctx.attachDevice(s2.ctx.bindDevice(s2.edu), b);
    s2.ctx.ioasMap(b, { userVa: BUF, length: 2n * PAGE, ...rw }, s2.src);
    expect(s2.src.mmAccount.lockedVm).toBe(2n);
    expect(errno(() => s2.ctx.setRlimitMode(0n, true))).toBe("EBUSY");
  });

  it("maps into every domain and reads through them", () => {
    const { ctx, src, edu, edu2, mem } = setup();
    const a = ctx.ioasAlloc();
    const h1 = ctx.attachDevice(ctx.bindDevice(edu), a);
    const h2 = ctx.hwptAlloc(ctx.attachDevice(ctx.bindDevice(edu2), a) && 2, a, 0);
    ctx.ioasMap(a, { userVa: BUF, length: PAGE, iova: 0x100000n, ...rw }, src);
    mem.write(BUF, new Uint8Array([1, 2, 3]));
    for (const h of [h1, h2]) {
      const t = ctx.hwpt(h).domain.translate(0x100001n)!;
      expect(t.object.read(t.offset, 2)).toEqual(new Uint8Array([2, 3]));
    }
  });
});

describe("iommufd context: HWPTs, attach, replace", () => {
  it("replace: moves the device; the old automatic HWPT is destroyed", () => {
    const { ctx, edu } = setup();
    const a = ctx.ioasAlloc();
    const b = ctx.ioasAlloc();
    const dev = ctx.bindDevice(edu);
    const h1 = ctx.attachDevice(dev, a);
    const h2 = ctx.replaceDevice(dev, b);
    expect(h2).not.toBe(h1);
    expect(errno(() => ctx.hwpt(h1))).toBe("ENOENT");
    expect(ctx.ioasIovaRanges(a).ranges).toEqual([{ start: 0n, last: U64_MAX }]);
    expect(ctx.ioasIovaRanges(b).ranges.length).toBe(2);
    expect(ctx.replaceDevice(dev, b)).toBe(h2);
  });

  it("alloc_hwpt: invalid flags, explicit HWPT attach, destroy while in use", () => {
    const { ctx, edu } = setup();
    const a = ctx.ioasAlloc();
    const dev = ctx.bindDevice(edu);
    expect(failsCleanly(ctx, () => ctx.hwptAlloc(dev, a, 1 << 31))).toBe("EOPNOTSUPP");
    expect(failsCleanly(ctx, () => ctx.hwptAlloc(dev, 99, 0))).toBe("EINVAL");
    expect(failsCleanly(ctx, () => ctx.hwptAlloc(dev, dev, 0))).toBe("EINVAL");
    expect(failsCleanly(ctx, () => ctx.hwptAlloc(dev, a, 2))).toBe("EOPNOTSUPP"); // no dirty tracking
    const h = ctx.hwptAlloc(dev, a, 0);
    expect(ctx.attachDevice(dev, h)).toBe(h);
    expect(failsCleanly(ctx, () => ctx.destroy(h))).toBe("EBUSY");
    ctx.detachDevice(dev);
    ctx.destroy(h);
  });

  it("MSI isolation: EPERM without interrupt remapping unless allow_unsafe_interrupts", () => {
    const s = setup({ host: qemuQ35VtdHost({ interruptRemapping: false }) });
    expect(failsCleanly(s.ctx, () => s.ctx.bindDevice(s.edu))).toBe("EPERM");
    const t = setup({ host: qemuQ35VtdHost({ interruptRemapping: false, allowUnsafeInterrupts: true }) });
    expect(t.ctx.bindDevice(t.edu)).toBe(1);
  });

  it("virtio-iommu quirk: a domain added before its first attach has an all-zero aperture", () => {
    const base = qemuQ35VtdHost();
    const unit = { ...base.iommus[0]!, apertureAtFirstAttach: true };
    const host: Host = { ...base, iommus: [unit] };
    const { ctx, edu } = setup({ host });
    const a = ctx.ioasAlloc();
    const dev = ctx.bindDevice(edu);
    ctx.attachDevice(dev, a); // immediate attach: geometry first
    expect(ctx.ioasIovaRanges(a).ranges.length).toBe(2);
    ctx.hwptAlloc(dev, a, 0);
    expect(ctx.ioasIovaRanges(a)).toEqual({ ranges: [{ start: 0n, last: 0n }], alignment: PAGE });
  });
});

describe("iommufd context: accesses", () => {
  it("pins through an access; unmap asks it to unpin", () => {
    const { ctx, src } = setup();
    const a = ctx.ioasAlloc();
    ctx.ioasMap(a, { userVa: BUF, length: 4n * PAGE, iova: 0x100000n, ...rw }, src);
    let notified = 0;
    const acc = ctx.accessCreate(a, {
      unmap: (iova, length) => {
        notified++;
        ctx.accessUnpin(acc, 0x101000n, PAGE);
        void iova;
        void length;
      },
    });
    expect(ctx.ioasIovaRanges(a).alignment).toBe(PAGE);
    ctx.accessPin(acc, 0x101000n, PAGE, true);
    expect(src.userAccount.lockedVm).toBe(1n);
    const data = new Uint8Array(4);
    ctx.accessRw(acc, 0x100ffen, data, false);
    expect(data).toEqual(new Uint8Array([0x5a, 0x5a, 0x5a, 0x5a]));
    expect(ctx.ioasUnmap(a, 0n, U64_MAX)).toBe(4n * PAGE);
    expect(notified).toBe(1);
    expect(src.userAccount.lockedVm).toBe(0n);
  });
});

describe("iommufd context: fault injection (fail-nth)", () => {
  it("every injected failure of map/copy/attach leaves the snapshot and accounting unchanged", () => {
    const scenarios: ((s: ReturnType<typeof setup>, ioas: number, dev: number) => unknown)[] = [
      (s, ioas) => s.ctx.ioasMap(ioas, { userVa: BUF, length: 8n * PAGE, ...rw }, s.src),
      (s, ioas) => s.ctx.ioasCopy(ioas, ioas, { length: PAGE, srcIova: 0x100000n, ...rw }),
      (s, ioas, dev) => s.ctx.hwptAlloc(dev, ioas, 0),
      (s, ioas) => s.ctx.accessCreate(ioas, { unmap: () => {} }),
      (s) => s.ctx.ioasAlloc(),
    ];
    for (const run of scenarios) {
      for (let n = 1; n < 50; n++) {
        const s = setup();
        const ioas = s.ctx.ioasAlloc();
        s.ctx.ioasMap(ioas, { userVa: BUF, length: 4n * PAGE, iova: 0x100000n, ...rw }, s.src);
        const dev = s.ctx.bindDevice(s.edu);
        s.ctx.attachDevice(dev, ioas);
        const before = JSON.stringify(s.ctx.snapshot());
        const charged = s.src.userAccount.lockedVm;
        const { injector } = withFaultInjection(n, () => errno(() => run(s, ioas, dev)));
        if (!injector.failedSite) break;
        expect(JSON.stringify(s.ctx.snapshot()), `${injector.failedSite} (n=${n})`).toBe(before);
        expect(s.src.userAccount.lockedVm).toBe(charged);
      }
    }
  });
});

describe("iommufd domains: translations follow the pinned backing", () => {
  it("a one-run area is its own translation; cut and half-unmapped, both halves stay exact", () => {
    const { ctx, src, edu } = setup();
    const ioas = ctx.ioasAlloc();
    ctx.attachDevice(ctx.bindDevice(edu), ioas);
    const iova = 0x200000n;
    const obj = ctx.ioas(ioas);
    obj.iopt.setLargePages(false, "test"); // as compat does: areas may be cut
    ctx.ioasMap(ioas, { iova, userVa: BUF + 3n * PAGE, length: 4n * PAGE, ...rw }, src);
    const domain = obj.hwpts[0]!.domain;
    const at = (i: bigint): bigint | undefined => domain.translate(i)?.offset;
    const base = at(iova)!;
    expect(at(iova + 0x2345n)).toBe(base + 0x2345n);
    // Cut after the second page (compat hole punching), then unmap the first half.
    ctx.cutIova(obj, [iova + 2n * PAGE - 1n]);
    expect(at(iova + 0x2345n)).toBe(base + 0x2345n);
    // Two records now, one run of the page table (a cut changes no IOPTE).
    expect(domain.translations().map((t) => t.start)).toEqual([iova, iova + 2n * PAGE]);
    expect(domain.runs().map((r) => [r.start, r.last])).toEqual([[iova, iova + 4n * PAGE - 1n]]);
    expect(ctx.ioasUnmap(ioas, iova, 2n * PAGE)).toBe(2n * PAGE);
    expect(domain.translate(iova + 0x1fffn)).toBeUndefined();
    expect(at(iova + 0x2000n)).toBe(base + 0x2000n);
    expect(at(iova + 0x3fffn)).toBe(base + 0x3fffn);
    expect(ctx.ioasUnmap(ioas, iova + 2n * PAGE, 2n * PAGE)).toBe(2n * PAGE);
    expect(domain.mappedExtents).toBe(0);
  });

  it("an area over two VMAs maps as two translations, each into its own object", () => {
    const { ctx, src, edu, mem } = setup();
    const va = BUF + (200n << 20n);
    mem.mmap(va, PAGE, "rw", { fill: 1 });
    mem.mmap(va + PAGE, PAGE, "rw", { fill: 2 });
    const ioas = ctx.ioasAlloc();
    ctx.attachDevice(ctx.bindDevice(edu), ioas);
    ctx.ioasMap(ioas, { iova: 0x400000n, userVa: va, length: 2n * PAGE, ...rw }, src);
    const domain = ctx.ioas(ioas).hwpts[0]!.domain;
    expect(domain.mappedExtents).toBe(2);
    const a = domain.translate(0x400000n)!;
    const b = domain.translate(0x401000n)!;
    expect(a.object).not.toBe(b.object);
    expect([a.object.fill, b.object.fill]).toEqual([1, 2]);
  });

  it("a HWPT added to an IOAS with areas shows them; a destroyed HWPT's domain shows nothing", () => {
    const { ctx, src, edu } = setup();
    const ioas = ctx.ioasAlloc();
    const dev = ctx.bindDevice(edu);
    ctx.attachDevice(dev, ioas);
    ctx.ioasMap(ioas, { iova: 0x600000n, userVa: BUF, length: 2n * PAGE, ...rw }, src);
    const hwpt = ctx.hwptAlloc(dev, ioas, 0);
    const second = ctx.hwpt(hwpt).domain;
    const first = ctx.ioas(ioas).hwpts[0]!.domain;
    expect(first).not.toBe(second);
    for (const d of [first, second])
      expect(d.translate(0x601000n)?.offset).toBe(first.translate(0x600000n)!.offset + PAGE);
    ctx.ioasMap(ioas, { iova: 0x700000n, userVa: BUF + 4n * PAGE, length: PAGE, ...rw }, src);
    expect(second.translate(0x700000n)).toBeDefined();
    ctx.destroy(hwpt);
    expect(second.translate(0x600000n)).toBeUndefined();
    expect(second.mappedExtents).toBe(0);
    expect(first.translate(0x700000n)).toBeDefined();
  });
});
