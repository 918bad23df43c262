/**
 * Snapshot and restore over every recorded vector: round trips at many points, a restored system
 * continuing the trace with the very same per-record results, and documents that are corrupted,
 * truncated, from a future version or not ours refused without building anything.
 */

import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { hostFromRun } from "../../src/replay/host-from-run.js";
import { Replayer, type RecordResult, type ReplayerState } from "../../src/replay/executor.js";
import { loadTrace, type Trace } from "../../src/replay/loader.js";
import { listVectorFiles } from "../../src/replay/suite.js";
import {
  loadState,
  restoreState,
  saveState,
  STATE_VERSION,
  StateError,
  stateToText,
} from "../../src/state/index.js";
import { createSystem, type Kernel } from "../../src/uapi/system.js";
import { UserClient } from "../../src/client/user-api.js";
import { presetHost } from "./helpers.js";
import { iommufdContexts } from "../../src/uapi/iommufd/file.js";

const vectors = resolve(import.meta.dirname, "../../../shared/vectors");
const files = listVectorFiles(vectors);
const EVERY = 50;

function freshKernel(t: Trace): Kernel {
  return createSystem(hostFromRun(t.run, t.sysfs, t.sysfsFile)).kernel;
}

function run(r: Replayer, t: Trace, from: number, to: number, out: RecordResult[]): void {
  for (const rec of t.records.slice(from, to)) {
    const res = r.step(rec);
    if (res) out.push(res);
  }
}

describe.skipIf(files.length === 0)("state: every vector", () => {
  for (const file of files) {
    const name = file.slice(vectors.length + 1);
    it(`${name}: save → load → save is identical every ${EVERY} records`, () => {
      const t = loadTrace(file);
      const kernel = freshKernel(t);
      const r = new Replayer(kernel);
      let points = 0;
      for (let i = 0; i < t.records.length; i++) {
        r.step(t.records[i]!);
        if ((i + 1) % EVERY !== 0 && i !== t.records.length - 1) continue;
        const doc = saveState(kernel, { extra: r.toState() });
        const back = restoreState(JSON.stringify(doc));
        const again = saveState(back.kernel, { extra: back.extra });
        expect(isDeepStrictEqual(again, doc), `${name} after record ${i}`).toBe(true);
        points++;
      }
      r.finish();
      // After the trace every process has exited: the state is the idle kernel.
      const end = restoreState(stateToText(kernel));
      expect(end.kernel.liveProcesses()).toHaveLength(0);
      expect(points).toBeGreaterThan(5);
    });

    it(`${name}: a restored system continues with the same results`, () => {
      const t = loadTrace(file);
      const whole: RecordResult[] = [];
      const r0 = new Replayer(freshKernel(t));
      run(r0, t, 0, t.records.length, whole);
      r0.finish();
      const n = t.records.length;
      for (const cut of [1, Math.floor(n / 4), Math.floor(n / 2), Math.floor((3 * n) / 4), n - 1]) {
        const k = freshKernel(t);
        const r = new Replayer(k);
        const got: RecordResult[] = [];
        run(r, t, 0, cut, got);
        const text = stateToText(k, { extra: r.toState() });
        // The saved system goes on untouched; the restored one must behave exactly like it.
        const back = restoreState(text);
        const r2 = Replayer.fromState(back.kernel, back.extra as ReplayerState);
        run(r2, t, cut, n, got);
        r2.finish();
        expect(got, `${name} cut at record ${cut}`).toEqual(whole);
      }
    });
  }
});

describe("state: refused documents", () => {
  const sys = createSystem(presetHost());
  const p = sys.spawn();
  p.memory.mmap(0x10000n, 0x4000n, "rw", { fill: 0xaa });
  p.memory.write(0x11000n, new Uint8Array([1, 2, 3]));
  p.open("/dev/vfio/vfio");
  const c = new UserClient(p);
  const iommufd = c.open("/dev/iommu");
  const ioas = c.ioasAlloc(iommufd);
  c.ioasMap(iommufd, ioas, 0x10000n, 0x4000n, { read: true, write: true }, 0x100000n);
  // A mapping over two VMAs: pinned in two runs, its store an object (an extent map of runs), the
  // domain holding its pieces in its own table.
  p.memory.mmap(0x20000n, 0x1000n, "rw");
  p.memory.mmap(0x21000n, 0x1000n, "rw");
  c.ioasMap(iommufd, ioas, 0x20000n, 0x2000n, { read: true, write: true }, 0x200000n);
  const dev = c.open("/dev/vfio/devices/vfio0");
  c.bind(dev, iommufd);
  c.attach(dev, ioas);
  const text = stateToText(sys);
  const doc = JSON.parse(text) as Record<string, unknown>;

  const refuse = (input: unknown, msg: RegExp): void => {
    expect(() => loadState(input)).toThrow(StateError);
    expect(() => loadState(input)).toThrow(msg);
  };

  it("loads the intact document", () => {
    const back = loadState(text);
    const q = back.kernel.liveProcesses()[0]!;
    expect([...q.memory.read(0x11000n, 4)]).toEqual([1, 2, 3, 0xaa]);
    expect(q.getFile(3).kind).toBe(p.getFile(3).kind);
  });
  it("refuses truncated text at every tenth of its length", () => {
    for (let i = 1; i < 10; i++) refuse(text.slice(0, Math.floor((text.length * i) / 10)), /not valid JSON/);
  });
  it("refuses a future version and a foreign format", () => {
    refuse({ ...doc, version: STATE_VERSION + 1 }, /newer than this ioas reads/);
    refuse({ ...doc, version: STATE_VERSION - 1 }, /written by an older ioas .* save the state again/);
    refuse({ ...doc, format: "ioas-host" }, /not an ioas state/);
    refuse({ ...doc, version: 0 }, /positive integer/);
    refuse([], /expected a JSON object/);
  });
  it("refuses a missing or unknown key", () => {
    const { graph: _g, ...noGraph } = doc;
    refuse(noGraph, /missing key "graph"/);
    refuse({ ...doc, extra: 1 }, /unknown key "extra"/);
  });
  it("refuses any flipped byte (digest)", () => {
    const at = text.indexOf('"nodes"') + 40;
    const flipped = text.slice(0, at) + (text[at] === "1" ? "2" : "1") + text.slice(at + 1);
    if (flipped !== text) expect(() => loadState(flipped)).toThrow(StateError);
    refuse({ ...doc, summary: { ...(doc["summary"] as object), clockMs: 5 } }, /digest mismatch/);
  });
  it("refuses structurally bad graphs even with a matching digest", () => {
    const withDigest = async (mut: (d: Record<string, unknown>) => void): Promise<unknown> => {
      const d = JSON.parse(text) as Record<string, unknown>;
      mut(d);
      const { createHash } = await import("node:crypto");
      const body = JSON.stringify([d["host"], d["features"], d["summary"], d["graph"]]);
      d["digest"] = "sha256:" + createHash("sha256").update(body).digest("hex");
      return d;
    };
    type G = { nodes: { k: string; c?: string; f?: Record<string, unknown> }[] };
    return Promise.all([
      withDigest((d) => ((d["graph"] as G).nodes[1]!.k = "weird")).then((x) =>
        refuse(x, /unknown node kind/),
      ),
      withDigest((d) => {
        const n = (d["graph"] as G).nodes.find((x) => x.k === "object" && x.c !== null)!;
        n.c = "Evil";
      }).then((x) => refuse(x, /unknown class "Evil"/)),
      withDigest((d) => {
        const n = (d["graph"] as G).nodes.find((x) => x.k === "object")!;
        n.f!["x"] = { $r: 1e6 };
      }).then((x) => refuse(x, /reference 1000000 outside/)),
      withDigest((d) => {
        const n = (d["graph"] as G).nodes.find((x) => x.k === "object")!;
        n.f!["x"] = { $a: "nowhere" };
      }).then((x) => refuse(x, /unknown anchor/)),
      withDigest((d) => {
        // A well-formed edit that no engine could have produced: overlapping extents.
        const n = (d["graph"] as { nodes: { k: string; v?: unknown[][] }[] }).nodes.find(
          (x) => x.k === "extents" && (x.v?.length ?? 0) > 0,
        )!;
        n.v!.push([...n.v![0]!]);
      }).then((x) => refuse(x, /overlapping extents/)),
      withDigest((d) => {
        // The same for the packed areas of the IOAS: a second row at the first row's IOVA.
        const nodes = (d["graph"] as { nodes: { k: string; c?: string; v?: unknown }[] }).nodes;
        const table = nodes.find((x) => x.k === "packed" && x.c === "AreaTable")!;
        const rows = nodes[(table.v as { $r: number }).$r] as { v: unknown[] };
        rows.v.push(rows.v[0]);
      }).then((x) => refuse(x, /AreaTable: area 2: overlaps another/)),
      withDigest((d) => {
        (d["host"] as { name: unknown }).name = 7;
      }).then((x) => refuse(x, /host/)),
    ]);
  });
  it("saves a type1 context's dma table packed, and refuses a packed table with overlapping dmas", () => {
    const sys1 = createSystem(presetHost());
    const q = sys1.spawn();
    q.memory.mmap(0x400000n, 0x10000n, "rw");
    const u = new UserClient(q);
    const container = u.open("/dev/vfio/vfio");
    const group = u.open("/dev/vfio/1");
    u.setContainer(group, container);
    u.setIommu(container, 3);
    u.mapDma(container, 0x400000n, 0x100000n, 0x2000n, { read: true, write: true });
    u.mapDma(container, 0x408000n, 0x10000n, 0x1000n, { read: true, write: false });
    const t1 = stateToText(sys1);
    type Packed = { k: string; c?: string; v?: { $r: number } };
    const d1 = JSON.parse(t1) as { graph: { nodes: (Packed & { v?: unknown })[] } };
    const packed = d1.graph.nodes.find((n) => n.k === "packed")!;
    expect(packed.c).toBe("DmaTable");
    // Rows in IOVA order, whatever the map order.
    const rows = d1.graph.nodes[packed.v!.$r] as { v: { $r: number }[] };
    const firstRow = d1.graph.nodes[rows.v[0]!.$r] as { v: unknown[] };
    expect(firstRow.v[0]).toEqual({ $b: "0x10000" });
    expect(stateToText(loadState(t1))).toBe(t1);
    // The same edit with a matching digest: two rows at one IOVA.
    const d = JSON.parse(t1) as Record<string, unknown> & { graph: { nodes: { k: string; v?: unknown }[] } };
    const rowsNode = d.graph.nodes[packed.v!.$r]! as { v: unknown[] };
    rowsNode.v.push(rowsNode.v[0]);
    const redigest = (x: Record<string, unknown>): Record<string, unknown> => {
      const body = JSON.stringify([x["host"], x["features"], x["summary"], x["graph"]]);
      return { ...x, digest: "sha256:" + createHash("sha256").update(body).digest("hex") };
    };
    refuse(redigest(d), /DmaTable: dma 2: overlaps another/);
    // A class that is saved by its fields cannot stand in a packed node.
    const e = JSON.parse(t1) as typeof d;
    (e.graph.nodes.find((n) => n.k === "packed") as unknown as { c: string }).c = "IommuDomain";
    refuse(redigest(e), /class IommuDomain is not saved packed/);
  });
  it("leaves the saved system alone and shares nothing with the restored one", () => {
    const back = loadState(text);
    const q = back.kernel.liveProcesses()[0]!;
    q.memory.write(0x10000n, new Uint8Array([9]));
    expect(p.memory.read(0x10000n, 1)[0]).toBe(0xaa);
    expect(back.kernel).not.toBe(sys.kernel);
    expect(stateToText(sys)).toBe(text);
  });
});

describe("state: iommufd page stores", () => {
  it("keeps a store shared by COPY shared after a load: the loaded system unmaps and unpins as the saved one", () => {
    const sys = createSystem(presetHost());
    const p = sys.spawn();
    p.memory.mmap(0x10000n, 0x4000n, "rw", { fill: 0x11 });
    const c = new UserClient(p);
    const fd = c.open("/dev/iommu");
    const a = c.ioasAlloc(fd);
    const b = c.ioasAlloc(fd);
    c.ioasMap(fd, a, 0x10000n, 0x4000n, { read: true, write: true }, 0x100000n); // inline in a's row
    c.ioasMap(fd, a, 0x12000n, 0x1000n, { read: true, write: true }, 0x300000n); // stays inline
    c.ioasCopy(fd, b, a, 0x101000n, 0x2000n, { read: true, write: true }, 0x200000n); // shares the first
    const dev = c.open("/dev/vfio/devices/vfio0");
    c.bind(dev, fd);
    c.attach(dev, a); // pins a's areas: the shared store and the inline one
    const view = (k: Kernel): unknown => [...iommufdContexts(k)].map((ctx) => ctx.snapshot());
    const text = stateToText(sys);
    const back = loadState(text);
    expect(view(back.kernel)).toEqual(view(sys.kernel));
    const snap = view(sys.kernel) as { objects: { kind: string; areas?: { pages: string }[] }[] }[];
    const [ioasA, ioasB] = snap[0]!.objects.filter((o) => o.kind === "ioas");
    // One store behind the first area of a and the copy in b; the second area's store its own.
    expect(ioasB!.areas![0]!.pages).toBe(ioasA!.areas![0]!.pages);
    expect(ioasA!.areas![1]!.pages).not.toBe(ioasA!.areas![0]!.pages);
    for (const k of [sys.kernel, back.kernel]) {
      const q = k.liveProcesses()[0]!;
      const u = new UserClient(q);
      expect(u.ioasUnmap(fd, a, 0x100000n, 0x4000n)).toBe(0x4000n);
      expect(u.ioasUnmap(fd, b, 0x200000n, 0x2000n)).toBe(0x2000n);
    }
    expect(view(back.kernel)).toEqual(view(sys.kernel));
    expect(stateToText(loadState(stateToText(back.kernel)))).toBe(stateToText(back.kernel));
  });
});
