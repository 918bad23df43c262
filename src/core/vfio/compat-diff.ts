/**
 * Run one scenario against real type1 and against iommufd's VFIO compat, step by step, and list
 * where they differ (semantics.md §3 made executable): errno, bytes unmapped, usable ranges, page
 * sizes, mappings left.
 *
 * A scenario is a process memory layout plus typed container steps; both sides get the same host,
 * the same first group (type1: SET_CONTAINER + SET_IOMMU; compat: compat IOAS + the group's devices
 * opened, i.e. bound and attached as GET_DEVICE_FD does), and a fresh copy of the same memory.
 */

import { IoasError } from "../errno.js";
import { IommufdContext, type PinSource } from "../iommufd/index.js";
import { kernelFeatures, type KernelFeatures } from "../kernel.js";
import type { Host } from "../topology/types.js";
import { hex } from "../u64.js";
import { AddressSpace, type Prot } from "../../process/memory.js";
import { compatCheckExtension, compatInfo, compatMap, compatSetIommu, compatUnmap } from "./compat.js";
import { VfioContainer } from "./container.js";
import { VfioSubsystem, type VfioGroup } from "./subsystem.js";
import type { DmaTask } from "./type1.js";

export type ScenarioStep =
  | {
      readonly op: "map";
      readonly iova: bigint;
      readonly size: bigint;
      readonly vaddr: bigint;
      readonly read?: boolean;
      readonly write?: boolean;
    }
  | { readonly op: "unmap"; readonly iova: bigint; readonly size: bigint; readonly all?: boolean }
  | { readonly op: "info" }
  | { readonly op: "checkExtension"; readonly ext: number }
  | { readonly op: "mmap" | "munmap"; readonly addr: bigint; readonly length: bigint; readonly prot?: Prot };

export interface Scenario {
  readonly name?: string;
  /** SET_IOMMU type: 1 (TYPE1) or 3 (TYPE1v2). */
  readonly type: 1 | 3;
  /** Process memory at start (rw anonymous unless `prot`). */
  readonly memory: readonly { readonly addr: bigint; readonly length: bigint; readonly prot?: Prot }[];
  readonly steps: readonly ScenarioStep[];
  /** VFIO group to use (default: the first viable one). */
  readonly group?: number;
}

/** One side's outcome of a step, as JSON-able text. */
export interface StepOutcome {
  readonly result: string;
  readonly errno: string | null;
}

export interface StepDiff {
  readonly index: number;
  readonly step: string;
  readonly type1: StepOutcome;
  readonly compat: StepOutcome;
  readonly same: boolean;
}

export interface CompatDiffReport {
  readonly name: string;
  readonly host: string;
  readonly setup: { readonly type1: StepOutcome; readonly compat: StepOutcome };
  readonly steps: readonly StepDiff[];
  readonly differences: number;
}

function stepText(s: ScenarioStep): string {
  switch (s.op) {
    case "map":
      return `map iova=${hex(s.iova)} size=${hex(s.size)} vaddr=${hex(s.vaddr)} ${(s.read ?? true) ? "r" : "-"}${(s.write ?? true) ? "w" : "-"}`;
    case "unmap":
      return s.all ? "unmap all" : `unmap iova=${hex(s.iova)} size=${hex(s.size)}`;
    case "info":
      return "get info";
    case "checkExtension":
      return `check extension ${s.ext}`;
    case "mmap":
    case "munmap":
      return `${s.op} ${hex(s.addr)}+${hex(s.length)}`;
  }
}

function outcome(fn: () => string): StepOutcome {
  try {
    return { result: fn(), errno: null };
  } catch (e) {
    if (e instanceof IoasError) return { result: "", errno: e.errno };
    throw e;
  }
}

function rangesText(list: readonly { start: bigint; last: bigint }[]): string {
  return list.map((r) => `[${hex(r.start)}, ${hex(r.last)}]`).join(" ");
}

function buildMemory(s: Scenario): AddressSpace {
  const m = new AddressSpace();
  for (const r of s.memory) m.mmap(r.addr, r.length, r.prot ?? "rw");
  return m;
}

function memoryStep(memory: AddressSpace, s: ScenarioStep): string | undefined {
  if (s.op === "mmap") memory.mmap(s.addr, s.length, s.prot ?? "rw");
  else if (s.op === "munmap") memory.munmap(s.addr, s.length);
  else return undefined;
  return "ok";
}

/** The type1 side: a container with the group, SET_IOMMU(type). */
function type1Side(host: Host, features: KernelFeatures, scenario: Scenario, group: number) {
  const vfio = new VfioSubsystem(host);
  const container = new VfioContainer(features, host.params.type1);
  const task: DmaTask = {
    memory: buildMemory(scenario),
    mm: { lockedVm: 0n },
    credentials: { capIpcLock: true },
    rlimitMemlock: 1n << 62n,
  };
  const setup = outcome(() => {
    container.attachGroup(vfio.group(group) as VfioGroup);
    container.setIommu(scenario.type);
    return "ok";
  });
  const run = (s: ScenarioStep): StepOutcome =>
    outcome(() => {
      const mem = memoryStep(task.memory, s);
      if (mem !== undefined) return mem;
      if (s.op === "checkExtension") return String(container.checkExtension(s.ext));
      const ctx = container.backend;
      if (!ctx) return "no backend";
      switch (s.op) {
        case "map":
          ctx.map(task, {
            vaddr: s.vaddr,
            iova: s.iova,
            size: s.size,
            read: s.read ?? true,
            write: s.write ?? true,
          });
          return "ok";
        case "unmap":
          return `unmapped ${hex(ctx.unmap({ iova: s.iova, size: s.size, all: s.all ?? false }))}`;
        default: {
          const i = ctx.info();
          return `pgsizes ${hex(i.pgsizeBitmap)} ranges ${rangesText(i.iovaList)}`;
        }
      }
    });
  return { setup, run };
}

/** The compat side: an iommufd context, compat IOAS, SET_IOMMU(type), the group's devices attached. */
function compatSide(host: Host, features: KernelFeatures, scenario: Scenario, group: number) {
  const ictx = new IommufdContext(host, { accountMode: "mm" });
  const memory = buildMemory(scenario);
  const account = { lockedVm: 0n };
  const source: PinSource = {
    memory,
    userAccount: account,
    mmAccount: account,
    capIpcLock: true,
    rlimitMemlock: 1n << 62n,
  };
  const setup = outcome(() => {
    ictx.ensureCompatIoas();
    compatSetIommu(ictx, scenario.type);
    const ioasId = ictx.getVfioIoas();
    for (const bdf of host.groups.find((g) => g.id === group)?.devices ?? []) {
      const pci = host.devices.find((d) => d.bdf === bdf);
      if (!pci || pci.driver === null || !pci.driver.startsWith("vfio")) continue;
      ictx.attachDevice(ictx.bindDevice(pci), ioasId);
    }
    return "ok";
  });
  const run = (s: ScenarioStep): StepOutcome =>
    outcome(() => {
      const mem = memoryStep(memory, s);
      if (mem !== undefined) return mem;
      switch (s.op) {
        case "checkExtension":
          return String(compatCheckExtension(ictx, s.ext, host.params.noiommu));
        case "map":
          compatMap(ictx, source, {
            vaddr: s.vaddr,
            iova: s.iova,
            size: s.size,
            read: s.read ?? true,
            write: s.write ?? true,
          });
          return "ok";
        case "unmap": {
          const r = compatUnmap(ictx, features, s);
          if (r.error)
            throw new IoasError(
              r.error.errno,
              r.error.op,
              `${r.error.message}; unmapped ${hex(r.unmapped)} first`,
            );
          return `unmapped ${hex(r.unmapped)}`;
        }
        default: {
          const i = compatInfo(ictx);
          return `pgsizes ${hex(i.pgsizeBitmap)} ranges ${rangesText(i.iovaRanges)}`;
        }
      }
    });
  return { setup, run };
}

/** Run `scenario` on both sides of `host` and list the step-by-step differences. */
export function compatDiff(host: Host, scenario: Scenario): CompatDiffReport {
  const features = kernelFeatures(host.params.kernelRelease, host.params.iommufd !== null);
  const group = scenario.group ?? new VfioSubsystem(host).groups.find((g) => g.viable)?.id;
  if (group === undefined) throw new Error(`host ${host.name} has no viable VFIO group`);
  const t1 = type1Side(host, features, scenario, group);
  const cp = compatSide(host, features, scenario, group);
  const steps = scenario.steps.map((s, index): StepDiff => {
    const type1 = t1.run(s);
    const compat = cp.run(s);
    const same = type1.errno === compat.errno && type1.result === compat.result;
    return { index, step: stepText(s), type1, compat, same };
  });
  return {
    name: scenario.name ?? "scenario",
    host: host.name,
    setup: { type1: t1.setup, compat: cp.setup },
    steps,
    differences: steps.filter((s) => !s.same).length,
  };
}

/** Parse a scenario from JSON (numbers or hex strings for addresses and sizes). */
export function parseScenario(json: unknown): Scenario {
  const big = (v: unknown, what: string): bigint => {
    if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
    if (typeof v === "string" && /^(0x[0-9a-f]+|\d+)$/i.test(v)) return BigInt(v);
    throw new Error(`scenario: ${what} must be a non-negative integer or hex string`);
  };
  const o = json as { name?: string; type?: number; group?: number; memory?: unknown[]; steps?: unknown[] };
  if (typeof o !== "object" || o === null || !Array.isArray(o.steps))
    throw new Error("scenario: needs a steps array");
  const type = o.type ?? 3;
  if (type !== 1 && type !== 3) throw new Error("scenario: type must be 1 or 3");
  const memory = (o.memory ?? []).map((m, i) => {
    const r = m as { addr?: unknown; length?: unknown; prot?: Prot };
    return {
      addr: big(r.addr, `memory[${i}].addr`),
      length: big(r.length, `memory[${i}].length`),
      ...(r.prot ? { prot: r.prot } : {}),
    };
  });
  const steps = o.steps.map((raw, i): ScenarioStep => {
    const s = raw as Record<string, unknown>;
    const at = `steps[${i}]`;
    switch (s["op"]) {
      case "map":
        return {
          op: "map",
          iova: big(s["iova"], `${at}.iova`),
          size: big(s["size"], `${at}.size`),
          vaddr: big(s["vaddr"], `${at}.vaddr`),
          read: s["read"] !== false,
          write: s["write"] !== false,
        };
      case "unmap":
        return s["all"] === true
          ? { op: "unmap", iova: 0n, size: 0n, all: true }
          : { op: "unmap", iova: big(s["iova"], `${at}.iova`), size: big(s["size"], `${at}.size`) };
      case "info":
        return { op: "info" };
      case "checkExtension":
        return { op: "checkExtension", ext: Number(big(s["ext"], `${at}.ext`)) };
      case "mmap":
      case "munmap":
        return {
          op: s["op"],
          addr: big(s["addr"], `${at}.addr`),
          length: big(s["length"], `${at}.length`),
          ...(s["prot"] ? { prot: s["prot"] as Prot } : {}),
        };
      default:
        throw new Error(`scenario: ${at}.op must be map, unmap, info, checkExtension, mmap or munmap`);
    }
  });
  return {
    ...(o.name ? { name: o.name } : {}),
    type,
    memory,
    steps,
    ...(o.group !== undefined ? { group: o.group } : {}),
  };
}

/** A built-in scenario touching the best-known divergences (§3 rows 9, 14–17, 21–23). */
export const DEFAULT_SCENARIO: Scenario = {
  name: "divergences",
  type: 3,
  memory: [{ addr: 0x100_0000_0000n, length: 0x400000n }],
  steps: [
    { op: "info" },
    { op: "checkExtension", ext: 10 },
    { op: "map", iova: 0x100000n, size: 0x4000n, vaddr: 0x100_0000_0000n },
    { op: "map", iova: 0x200000n, size: 0x1000n, vaddr: 0x100_0000_0000n, read: false, write: false },
    { op: "unmap", iova: 0x101000n, size: 0x1000n },
    { op: "unmap", iova: 0x400000n, size: 0x1000n },
    { op: "map", iova: 0x800n, size: 0x800n, vaddr: 0x100_0000_0800n },
    { op: "unmap", iova: 0n, size: 0n, all: true },
  ],
};
