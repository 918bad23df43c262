/**
 * Isolation, proven over random operation sequences: a device reads and writes exactly the memory
 * its context currently maps — with the mapping's permissions — and nothing else; devices in
 * different IOASes never see each other's memory; after an unmap, DMA faults.
 *
 * Driven through the binary uAPI (UserClient) and the device DMA entry point; the reference is a
 * plain model of page mappings and a byte copy of process memory.
 */

import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { UserClient } from "../../src/client/user-api.js";
import { IoasError } from "../../src/core/errno.js";
import { qemuQ35VtdHost } from "../../src/core/topology/presets.js";
import { createSystem } from "../../src/uapi/system.js";

const PAGE = 0x1000;
const PAGES = 32;
/** IOVA pages used: few, so maps, unmaps and DMA collide often. */
const IOVA_PAGES = 12;
const ARENA = 0x100_0000_0000n; // process VA of the arena (32 pages)
const SECRET = 0x200_0000_0000n; // never given to any device
const IOVA_BASE = 0x10_0000;
const DEVICES = ["0000:00:04.0", "0000:00:05.0"] as const;

type Perm = "r" | "w" | "rw";
interface Mapping {
  iovaPage: number;
  vaPage: number;
  pages: number;
  perm: Perm;
}

type Op =
  | { kind: "map"; ctx: number; iovaPage: number; vaPage: number; pages: number; perm: Perm }
  | { kind: "unmap"; ctx: number; pick: number; superset: boolean }
  | { kind: "write"; dev: number; iovaPage: number; offset: number; length: number; byte: number }
  | { kind: "read"; dev: number; iovaPage: number; offset: number; length: number };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("map" as const),
    ctx: fc.integer({ min: 0, max: 1 }),
    iovaPage: fc.integer({ min: 0, max: IOVA_PAGES - 1 }),
    vaPage: fc.integer({ min: 0, max: PAGES - 4 }),
    pages: fc.integer({ min: 1, max: 4 }),
    perm: fc.constantFrom<Perm>("r", "w", "rw"),
  }),
  fc.record({
    kind: fc.constant("unmap" as const),
    ctx: fc.integer({ min: 0, max: 1 }),
    pick: fc.nat(),
    superset: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("write" as const),
    dev: fc.integer({ min: 0, max: 1 }),
    iovaPage: fc.integer({ min: 0, max: IOVA_PAGES + 1 }),
    offset: fc.integer({ min: 0, max: PAGE - 1 }),
    length: fc.integer({ min: 1, max: 2 * PAGE }),
    byte: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant("read" as const),
    dev: fc.integer({ min: 0, max: 1 }),
    iovaPage: fc.integer({ min: 0, max: IOVA_PAGES + 1 }),
    offset: fc.integer({ min: 0, max: PAGE - 1 }),
    length: fc.integer({ min: 1, max: 2 * PAGE }),
  }),
);

/** The two contexts under test: map/unmap in context `ctx`; device `dev` is attached to context `dev`. */
interface Contexts {
  map(ctx: number, iova: bigint, va: bigint, length: bigint, perm: Perm): void;
  unmap(ctx: number, iova: bigint, length: bigint): bigint;
}

function iommufdContexts(client: UserClient): Contexts {
  const fd = client.open("/dev/iommu");
  const ioas = [client.ioasAlloc(fd), client.ioasAlloc(fd)];
  DEVICES.forEach((_, i) => {
    const cdev = client.open(`/dev/vfio/devices/vfio${i}`);
    client.bind(cdev, fd);
    client.attach(cdev, ioas[i]!);
  });
  const perms = (p: Perm) => ({ read: p !== "w", write: p !== "r" });
  return {
    map: (ctx, iova, va, length, perm) => void client.ioasMap(fd, ioas[ctx]!, va, length, perms(perm), iova),
    unmap: (ctx, iova, length) => client.ioasUnmap(fd, ioas[ctx]!, iova, length),
  };
}

function type1Contexts(client: UserClient): Contexts {
  const containers = DEVICES.map((bdf, i) => {
    const container = client.open("/dev/vfio/vfio");
    const group = client.open(`/dev/vfio/${i + 1}`);
    client.setContainer(group, container);
    client.setIommu(container, 3 /* TYPE1v2 */);
    client.getDeviceFd(group, bdf);
    return container;
  });
  const perms = (p: Perm) => ({ read: p !== "w", write: p !== "r" });
  return {
    map: (ctx, iova, va, length, perm) => client.mapDma(containers[ctx]!, va, iova, length, perms(perm)),
    unmap: (ctx, iova, length) => client.unmapDma(containers[ctx]!, iova, length),
  };
}

function run(face: "iommufd" | "type1", ops: readonly Op[], host = qemuQ35VtdHost()): void {
  const sys = createSystem(host);
  const p = sys.spawn();
  p.memory.mmap(ARENA, BigInt(PAGES * PAGE), "rw", { fill: 0x5a });
  p.memory.mmap(SECRET, BigInt(4 * PAGE), "rw", { fill: 0x77 });
  const client = new UserClient(p);
  const ctxs = face === "iommufd" ? iommufdContexts(client) : type1Contexts(client);
  const model: Mapping[][] = [[], []];
  const arena = new Uint8Array(PAGES * PAGE).fill(0x5a);
  const secret = new Uint8Array(4 * PAGE).fill(0x77);
  const vtd = host.iommus[0]!.kind === "intel-vtd";

  /** The model's translation of one IOVA byte for device `dev`: arena offset, or undefined. */
  const translate = (dev: number, iova: number, write: boolean): number | undefined => {
    if (iova < IOVA_BASE) return undefined;
    const page = Math.floor((iova - IOVA_BASE) / PAGE);
    const m = model[dev]!.find((x) => page >= x.iovaPage && page < x.iovaPage + x.pages);
    if (!m) return undefined;
    const allowed = write ? m.perm !== "r" : m.perm !== "w" || vtd; // VT-d: write implies read
    if (!allowed) return undefined;
    return (m.vaPage + page - m.iovaPage) * PAGE + ((iova - IOVA_BASE) % PAGE);
  };

  for (const op of ops) {
    if (op.kind === "map") {
      const clash = model[op.ctx]!.some(
        (m) => op.iovaPage < m.iovaPage + m.pages && m.iovaPage < op.iovaPage + op.pages,
      );
      const iova = BigInt(IOVA_BASE + op.iovaPage * PAGE);
      let errno: string | undefined;
      try {
        ctxs.map(op.ctx, iova, ARENA + BigInt(op.vaPage * PAGE), BigInt(op.pages * PAGE), op.perm);
      } catch (e) {
        if (!(e instanceof IoasError)) throw e;
        errno = e.errno;
      }
      expect(errno).toBe(clash ? "EEXIST" : undefined);
      if (!clash)
        model[op.ctx]!.push({ iovaPage: op.iovaPage, vaPage: op.vaPage, pages: op.pages, perm: op.perm });
    } else if (op.kind === "unmap") {
      const list = model[op.ctx]!.sort((a, b) => a.iovaPage - b.iovaPage);
      if (list.length === 0) continue;
      const first = op.pick % list.length;
      // Exact one mapping, or a superset covering it and every whole mapping up to the next one.
      const chosen = op.superset ? list.slice(first, first + 2) : [list[first]!];
      const startPage = chosen[0]!.iovaPage;
      const endPage = Math.max(...chosen.map((m) => m.iovaPage + m.pages));
      const got = ctxs.unmap(
        op.ctx,
        BigInt(IOVA_BASE + startPage * PAGE),
        BigInt((endPage - startPage) * PAGE),
      );
      const removed = list.filter((m) => m.iovaPage >= startPage && m.iovaPage + m.pages <= endPage);
      expect(got).toBe(BigInt(removed.reduce((n, m) => n + m.pages * PAGE, 0)));
      model[op.ctx] = list.filter((m) => !removed.includes(m));
    } else {
      const dma = sys.kernel.devices.dma(DEVICES[op.dev]!)!;
      const iova = IOVA_BASE + op.iovaPage * PAGE + op.offset;
      if (op.kind === "write") {
        dma.write(BigInt(iova), new Uint8Array(op.length).fill(op.byte));
        for (let i = 0; i < op.length; i++) {
          const at = translate(op.dev, iova + i, true);
          if (at !== undefined) arena[at] = op.byte;
        }
      } else {
        const got = dma.read(BigInt(iova), op.length).data;
        const want = new Uint8Array(op.length);
        for (let i = 0; i < op.length; i++) {
          const at = translate(op.dev, iova + i, false);
          if (at !== undefined) want[i] = arena[at]!;
        }
        if (!Buffer.from(got).equals(want)) expect(got).toEqual(want);
      }
      // No byte of the process changed except through a permitted translation.
      const now = p.memory.read(ARENA, PAGES * PAGE);
      if (!Buffer.from(now).equals(arena)) expect(now).toEqual(arena);
      const hidden = p.memory.read(SECRET, 4 * PAGE);
      if (!Buffer.from(hidden).equals(secret)) expect(hidden).toEqual(secret);
    }
  }
}

describe("DMA isolation over random operation sequences", () => {
  for (const face of ["iommufd", "type1"] as const) {
    it(`${face}: devices reach exactly their context's current mappings, with permissions`, () => {
      fc.assert(
        fc.property(fc.array(arbOp, { minLength: 1, maxLength: 40 }), (ops) => run(face, ops)),
        { numRuns: 100 },
      );
    });
  }

  it("virtio-iommu permissions are exact (a write-only mapping is not readable)", () => {
    fc.assert(
      fc.property(fc.array(arbOp, { minLength: 1, maxLength: 30 }), (ops) =>
        run("iommufd", ops, vtdHostAsVirtio()),
      ),
      { numRuns: 60 },
    );
  });
});

/** The vectors' virtio-iommu host: same devices, full 64-bit aperture, exact permissions. */
function vtdHostAsVirtio() {
  const h = qemuQ35VtdHost({ addressWidth: 48 });
  return {
    ...h,
    iommus: h.iommus.map((u) => ({
      ...u,
      kind: "virtio-iommu" as const,
      driver: "virtio-iommu",
      msiIsolation: true,
    })),
  };
}
