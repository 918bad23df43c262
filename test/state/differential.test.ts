/**
 * Differential tests: random operation sequences through the real engine (the uAPI via the user
 * client, the typed context API for UNMAP's partial result and ALLOW_IOVAS) and through the simple
 * reference model (src/state/reference-model.ts); every result (errno, returned IOVA or size,
 * IOVA_RANGES) and the mapping lists after every step must agree.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UserClient } from "../../src/client/user-api.js";
import { IoasError } from "../../src/core/errno.js";
import type { IoasObject } from "../../src/core/iommufd/context.js";
import type { Host } from "../../src/core/topology/types.js";
import { ModelIoas, ModelType1, type Range } from "../../src/state/reference-model.js";
import type { IommufdFile } from "../../src/uapi/iommufd/file.js";
import { createSystem } from "../../src/uapi/system.js";
import type { ContainerFile } from "../../src/uapi/vfio/container.js";
import { presetHost } from "./helpers.js";

const PAGE = 0x1000n;
const U64_MAX = (1n << 64n) - 1n;
/** The IOVA universe: 32 pages straddling the x86 MSI window at 0xfee00000 (pages 24..31 reserved). */
const BASE = 0xfee00000n - 24n * PAGE;
const PAGES = 32;
const BUF = 0x2000_0000n;
const RW = { read: true, write: true };

const iova = (unit: number): bigint => BASE + BigInt(unit) * PAGE;

function errnoOf(f: () => void): string | null {
  try {
    f();
    return null;
  } catch (e) {
    if (e instanceof IoasError) return e.errno;
    throw e;
  }
}

/** What the host says must never be mapped for a device: its reserved regions and what lies past the aperture. */
function reservedFor(host: Host, regions: readonly Range[]): Range[] {
  const unit = host.iommus[0]!;
  return [
    ...regions.map((r) => ({ start: r.start, last: r.last })),
    ...(unit.aperture.last < U64_MAX ? [{ start: unit.aperture.last + 1n, last: U64_MAX }] : []),
  ];
}

type IoasOp =
  | { op: "map"; ioas: number; unit: number; pages: number; auto: boolean }
  | { op: "unmap"; ioas: number; unit: number; pages: number }
  | { op: "unmapAll"; ioas: number }
  | { op: "copy"; src: number; dst: number; unit: number; pages: number; dstUnit: number }
  | { op: "allow"; ioas: number; ranges: { unit: number; pages: number }[] }
  | { op: "ranges"; ioas: number };

const ioasIdx = fc.integer({ min: 0, max: 1 });
const unit = fc.integer({ min: 0, max: PAGES - 1 });
const pages = fc.integer({ min: 0, max: 6 });
const ioasOp: fc.Arbitrary<IoasOp> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ op: fc.constant("map" as const), ioas: ioasIdx, unit, pages, auto: fc.boolean() }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("unmap" as const),
      ioas: ioasIdx,
      unit,
      pages: fc.integer({ min: 0, max: 10 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("unmapAll" as const), ioas: ioasIdx }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("copy" as const),
      src: ioasIdx,
      dst: ioasIdx,
      unit,
      pages,
      dstUnit: unit,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("allow" as const),
      ioas: ioasIdx,
      ranges: fc.array(fc.record({ unit, pages: fc.integer({ min: 0, max: 12 }) }), { maxLength: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("ranges" as const), ioas: ioasIdx }) },
);

function iommufdRun(ops: readonly IoasOp[]): void {
  const host = presetHost();
  const sys = createSystem(host);
  const p = sys.spawn();
  p.memory.mmap(BUF, 64n * PAGE, "rw");
  const c = new UserClient(p);
  const fd = c.open("/dev/iommu");
  const ids = [c.ioasAlloc(fd), c.ioasAlloc(fd)];
  // IOAS 0 has a device attached (reserved ranges, PAGE_SIZE alignment); IOAS 1 is bare.
  const dev = c.open("/dev/vfio/devices/vfio0");
  c.bind(dev, fd);
  c.attach(dev, ids[0]!);
  const ctx = (p.getFile(fd) as IommufdFile).ctx;
  const pci = host.devices.find((d) => d.cdev === "/dev/vfio/devices/vfio0")!;
  const models = [new ModelIoas(reservedFor(host, pci.reservedRegions), PAGE), new ModelIoas([], 1n)];
  const areasOf = (i: number) => {
    const o = ctx.list().find((x) => x.kind === "ioas" && x.id === ids[i]) as IoasObject;
    const areas = o.iopt.areas;
    return areas.slots().map((s) => ({ iova: areas.iovaAt(s), last: areas.lastAt(s) }));
  };
  for (const [step, o] of ops.entries()) {
    const where = `step ${step}: ${JSON.stringify(o)}`;
    switch (o.op) {
      case "map": {
        const m = models[o.ioas]!;
        const length = BigInt(o.pages) * PAGE;
        let got: bigint | undefined;
        const errno = errnoOf(() => {
          got = c.ioasMap(fd, ids[o.ioas]!, BUF, length, RW, o.auto ? undefined : iova(o.unit));
        });
        if (o.auto) {
          if (length === 0n) expect(errno, where).toBe("EINVAL");
          else if (errno === null) {
            expect(m.autoIovaIsLegal(got!, length), `${where}: auto IOVA 0x${got!.toString(16)}`).toBe(true);
            m.mapFixed(got!, [length]);
          } else expect(errno, where).toBe("ENOSPC");
        } else expect(errno, where).toBe(m.mapFixed(iova(o.unit), [length]).errno);
        break;
      }
      case "unmap": {
        const length = BigInt(o.pages) * PAGE;
        let unmapped = 0n;
        const errno = errnoOf(() => {
          try {
            unmapped = ctx.ioasUnmap(ids[o.ioas]!, iova(o.unit), length);
          } catch (e) {
            if (e instanceof IoasError) unmapped = (e.detail?.["unmapped"] as bigint | undefined) ?? 0n;
            throw e;
          }
        });
        expect({ errno, unmapped }, where).toEqual(models[o.ioas]!.unmap(iova(o.unit), length));
        break;
      }
      case "unmapAll": {
        let unmapped = 0n;
        const errno = errnoOf(() => void (unmapped = c.ioasUnmap(fd, ids[o.ioas]!, 0n, U64_MAX)));
        expect({ errno, unmapped }, where).toEqual(models[o.ioas]!.unmap(0n, U64_MAX));
        break;
      }
      case "copy": {
        const length = BigInt(o.pages) * PAGE;
        const errno = errnoOf(
          () => void c.ioasCopy(fd, ids[o.dst]!, ids[o.src]!, iova(o.unit), length, RW, iova(o.dstUnit)),
        );
        const src = models[o.src]!.copyRuns(iova(o.unit), length);
        const want = src.errno ?? models[o.dst]!.mapFixed(iova(o.dstUnit), src.runs).errno;
        expect(errno, where).toBe(want);
        break;
      }
      case "allow": {
        const ranges = o.ranges.map((r) => ({
          start: iova(r.unit),
          last: iova(r.unit) + BigInt(r.pages) * PAGE - 1n,
        }));
        const errno = errnoOf(() => ctx.ioasAllowIovas(ids[o.ioas]!, ranges));
        expect(errno, where).toBe(models[o.ioas]!.allow(ranges).errno);
        break;
      }
      case "ranges": {
        const got = c.ioasIovaRanges(fd, ids[o.ioas]!).ranges.map((r) => ({ start: r.start, last: r.last }));
        expect(got, where).toEqual(models[o.ioas]!.iovaRanges());
        break;
      }
    }
    expect(areasOf(0), `${where}: IOAS 0 areas`).toEqual(models[0]!.list());
    expect(areasOf(1), `${where}: IOAS 1 areas`).toEqual(models[1]!.list());
  }
}

type Type1Op = { op: "map" | "unmap"; unit: number; pages: number; offset: boolean };
const type1Op: fc.Arbitrary<Type1Op> = fc.record({
  op: fc.constantFrom("map" as const, "unmap" as const),
  unit,
  pages: fc.integer({ min: 0, max: 8 }),
  // Now and then a size or IOVA that is not page aligned.
  offset: fc.boolean().chain((b) => fc.constant(b && Math.random() < 0.1)),
});

function type1Run(v2: boolean, ops: readonly Type1Op[]): void {
  const host = presetHost();
  const sys = createSystem(host);
  const p = sys.spawn();
  p.memory.mmap(BUF, 64n * PAGE, "rw");
  const c = new UserClient(p);
  const container = c.open("/dev/vfio/vfio");
  const groupId = 1;
  const group = c.open(`/dev/vfio/${groupId}`);
  c.setContainer(group, container);
  c.setIommu(container, v2 ? 3 : 1);
  const regions = host.groups
    .find((g) => g.id === groupId)!
    .reservedRegions.filter((r) => r.type !== "direct-relaxable");
  const model = new ModelType1(v2, reservedFor(host, regions), PAGE);
  const file = p.getFile(container) as ContainerFile;
  for (const [step, o] of ops.entries()) {
    const where = `v${v2 ? 2 : 1} step ${step}: ${JSON.stringify(o)}`;
    const at = iova(o.unit) + (o.offset ? 0x800n : 0n);
    const size = BigInt(o.pages) * PAGE;
    if (o.op === "map") {
      const errno = errnoOf(() => c.mapDma(container, BUF, at, size, RW));
      expect(errno, where).toBe(model.map(at, size).errno);
    } else {
      let unmapped = 0n;
      const errno = errnoOf(() => void (unmapped = c.unmapDma(container, at, size)));
      const want = model.unmap(at, size);
      expect({ errno, unmapped: errno ? 0n : unmapped }, where).toEqual(
        want.errno ? { errno: want.errno, unmapped: 0n } : want,
      );
    }
    const got = file.container.backend!.mappings().map((d) => ({ iova: d.iova, last: d.iova + d.size - 1n }));
    expect(got, `${where}: vfio_dma list`).toEqual(model.list());
  }
}

describe("differential: engine vs reference model", () => {
  it("iommufd IOAS map/unmap/copy/allow/ranges (fixed and automatic IOVA, reserved holes)", () => {
    fc.assert(
      fc.property(fc.array(ioasOp, { minLength: 1, maxLength: 40 }), (ops) => iommufdRun(ops)),
      { numRuns: 150, seed: 7 },
    );
  });
  it("type1 v2 map/unmap (no bisecting, EEXIST before the usable-range check)", () => {
    fc.assert(
      fc.property(fc.array(type1Op, { minLength: 1, maxLength: 40 }), (ops) => type1Run(true, ops)),
      {
        numRuns: 150,
        seed: 8,
      },
    );
  });
  it("type1 v1 map/unmap (a range starting inside a mapping unmaps nothing; whole mappings go)", () => {
    fc.assert(
      fc.property(fc.array(type1Op, { minLength: 1, maxLength: 40 }), (ops) => type1Run(false, ops)),
      {
        numRuns: 150,
        seed: 9,
      },
    );
  });
});
