/**
 * Whole-system snapshot and restore: a simulated system (host, kernel, processes with their memory
 * and fds, iommufd contexts, VFIO containers, groups, devices, device models, clock, log) as one
 * versioned JSON document, and back into a live system that continues exactly where it stopped.
 *
 *   {
 *     "format": "ioas-state", "version": 1,
 *     "digest": "sha256:…",            over host, features, summary and graph (corruption check)
 *     "host": { … },                    the host, as in host snapshots (bigints "0x…")
 *     "features": { … },                the kernel features the system was built with
 *     "summary": { … },                 a readable digest: clock, locked_vm, processes and fds, counts
 *     "graph": { root, nodes, overlays } every object of the system (codec.ts)
 *   }
 *
 * Loading is all or nothing: the envelope, digest, host, features and the whole graph are checked
 * first; objects are then built into a fresh system nobody else sees, which is saved again and must
 * reproduce the document exactly before it is returned.
 */

import { createHash } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { EduDevice } from "../core/devices/edu.js";
import { PciFunction } from "../core/devices/pci-function.js";
import { RateLimit } from "../core/dma/fault-report.js";
import { HOST_MSI_DOORBELL, MsiDoorbell } from "../core/dma/doorbell.js";
import { Iotlb } from "../core/dma/iotlb.js";
import { IommuDomain, reserveDomainIds, TableMirror, TranslationExtent } from "../core/domain.js";
import {
  AccessObject,
  DeviceObject,
  dmaOwnerTable,
  HwptPaging,
  IGroup,
  IoasObject,
  IommufdContext,
} from "../core/iommufd/context.js";
import { AreaHolder, AreaTable } from "../core/iommufd/area-table.js";
import { IoPagetable } from "../core/iommufd/io-pagetable.js";
import { BackingRun, IoptPages } from "../core/iommufd/pages.js";
import { kernelFeatures, type KernelFeatures } from "../core/kernel.js";
import { KernelLog } from "../core/kmsg.js";
import type { Host } from "../core/topology/types.js";
import { reserveContainerIds, VfioContainer } from "../core/vfio/container.js";
import { VfioDevice, VfioGroup, VfioSubsystem } from "../core/vfio/subsystem.js";
import { DmaTable } from "../core/vfio/dma-table.js";
import { Type1Domain, Type1Iommu } from "../core/vfio/type1.js";
import { HostReadError } from "../host/errors.js";
import { hostToJson, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, snapshotFromText } from "../host/snapshot.js";
import { FileHandle } from "../process/file-handle.js";
import { AddressSpace, MemoryObject, reserveMemoryObjectIds } from "../process/memory.js";
import { Process } from "../process/process.js";
import { IommufdFile } from "../uapi/iommufd/file.js";
import { createSystem, Kernel, type System } from "../uapi/system.js";
import { ContainerFile } from "../uapi/vfio/container.js";
import { GroupDeviceFile } from "../uapi/vfio/device.js";
import { GroupFile } from "../uapi/vfio/group.js";
import { VfioCdevFile } from "../uapi/vfio-cdev/file.js";
import {
  decodeGraph,
  encodeGraph,
  validateGraph,
  type Anchor,
  type ClassRegistry,
  type GraphJson,
  type Overlay,
} from "./codec.js";
import { StateError } from "./errors.js";

export const STATE_FORMAT = "ioas-state";
/**
 * Version of the document. 2: an iommufd page store keeps its one backing run inline
 * (`IoptPages.run`/`runs`, `BackingRun` records) instead of an extent map of wrapped values. 3: a
 * type1 context keeps its smallest page size beside its page-size bitmap, a `vfio_dma` derives its
 * last byte and locked pages, an iommufd page store keeps inline only a run over all its pages, the
 * kernel keeps the pin source each process's page stores share. 4: a type1 context's dmas are a
 * packed `DmaTable` (rows in IOVA order), an iommufd area keeps its length instead of its last byte,
 * a page store keeps its rare state in one `extra` object. 5: an IOAS's areas are a packed
 * `AreaTable` (a store made by a MAP inline in its area's row until shared; `AreaHolder`s hold shared
 * stores' pins), both mirrors are `TableMirror`s.
 * Documents of another version are refused: their records have another layout.
 */
export const STATE_VERSION = 5;

/** The classes whose instances a state may hold, under their names in the format. */
export const STATE_CLASSES: ClassRegistry = new Map<string, abstract new (...args: never[]) => object>([
  ["Process", Process],
  ["AddressSpace", AddressSpace],
  ["MemoryObject", MemoryObject],
  ["MsiDoorbell", MsiDoorbell],
  ["FileHandle", FileHandle],
  ["KernelLog", KernelLog],
  ["RateLimit", RateLimit],
  ["IommufdFile", IommufdFile],
  ["IommufdContext", IommufdContext],
  ["IoasObject", IoasObject],
  ["HwptPaging", HwptPaging],
  ["IGroup", IGroup],
  ["DeviceObject", DeviceObject],
  ["AccessObject", AccessObject],
  ["IoPagetable", IoPagetable],
  ["AreaTable", AreaTable],
  ["AreaHolder", AreaHolder],
  ["TableMirror", TableMirror],
  ["IoptPages", IoptPages],
  ["BackingRun", BackingRun],
  ["IommuDomain", IommuDomain],
  ["Iotlb", Iotlb],
  ["VfioSubsystem", VfioSubsystem],
  ["VfioGroup", VfioGroup],
  ["VfioDevice", VfioDevice],
  ["VfioContainer", VfioContainer],
  ["Type1Iommu", Type1Iommu],
  ["Type1Domain", Type1Domain],
  ["DmaTable", DmaTable],
  ["TranslationExtent", TranslationExtent],
  ["ContainerFile", ContainerFile],
  ["GroupFile", GroupFile],
  ["GroupDeviceFile", GroupDeviceFile],
  ["VfioCdevFile", VfioCdevFile],
  ["PciFunction", PciFunction],
  ["EduDevice", EduDevice],
]);

/** What a state holds besides the kernel: the replayer's between-records state, or anything else. */
export interface SaveOptions {
  /** Extra data saved with the system (e.g. `Replayer.toState()`); may reference its objects. */
  readonly extra?: unknown;
}

export interface RestoredState {
  readonly system: System;
  readonly kernel: Kernel;
  /** `SaveOptions.extra` as saved, rebuilt against the restored system (null when none). */
  readonly extra: unknown;
}

export interface StateDocument {
  readonly format: typeof STATE_FORMAT;
  readonly version: number;
  readonly digest: string;
  readonly host: unknown;
  readonly features: unknown;
  readonly summary: StateSummary;
  readonly graph: GraphJson;
}

export interface StateSummary {
  readonly clockMs: number;
  /** Per-uid `user_struct->locked_vm`, pages. */
  readonly lockedVm: Readonly<Record<string, number>>;
  readonly processes: readonly {
    readonly pid: number;
    readonly uid: number;
    readonly mmLockedVm: number;
    readonly vmas: number;
    readonly fds: readonly { readonly fd: number; readonly kind: string }[];
  }[];
  readonly kmsgLines: number;
}

// ---- anchors: what every system for the same host already has ----

const NONE: Overlay = { kind: "none" };

function priv<T>(o: object, name: string): T {
  return (o as Record<string, unknown>)[name] as T;
}

function hasFunctions(v: unknown, depth = 2): boolean {
  if (typeof v === "function") return true;
  if (depth === 0 || typeof v !== "object" || v === null) return false;
  return Object.values(v).some((x) => hasFunctions(x, depth - 1));
}

/** Service keys a freshly built system has (created by the subsystems' registration). */
const freshServiceKeys = new WeakMap<Host, readonly string[]>();

function wiredServiceKeys(host: Host, features: KernelFeatures): readonly string[] {
  let keys = freshServiceKeys.get(host);
  if (!keys) {
    const fresh = createSystem(host, { features }).kernel;
    keys = [...priv<Map<string, unknown>>(fresh, "services").keys()];
    freshServiceKeys.set(host, keys);
  }
  return keys;
}

let stdioFile: object | undefined;

/** Kernel fields that are wiring or immutable, never saved (rebuilt by `createSystem`). */
const KERNEL_UNSAVED = new Set(["host", "features", "kmsg", "devices", "nodes", "opener"]);

function kernelAnchors(kernel: Kernel): Anchor[] {
  const out: Anchor[] = [];
  const add = (name: string, value: unknown, overlay: Overlay = NONE): void => {
    if (typeof value !== "object" && typeof value !== "function") return;
    if (value === null) return;
    out.push({ name, value, overlay });
  };
  const all = (o: object): Overlay => ({ kind: "fields", fields: Object.keys(o) });
  // The host: plain data, rebuilt from the document's "host".
  const walkHost = (v: unknown, path: string): void => {
    if (typeof v !== "object" || v === null) return;
    add(path, v);
    for (const [k, x] of Object.entries(v)) walkHost(x, `${path}.${k}`);
  };
  walkHost(kernel.host, "host");
  add("features", kernel.features);
  add("kernel", kernel, {
    kind: "fields",
    fields: Object.keys(kernel).filter((k) => !KERNEL_UNSAVED.has(k)),
  });
  add("kernel.opener", priv(kernel, "opener"));
  add("kmsg", kernel.kmsg, all(kernel.kmsg));
  const devices = kernel.devices;
  add("devices", devices);
  add("devices.faults", devices.faults, { kind: "array" });
  add("devices.interrupts", devices.interrupts, { kind: "array" });
  add("devices.faultReporter", devices.faultReporter);
  add("devices.dmarLimit", devices.faultReporter.dmarLimit, all(devices.faultReporter.dmarLimit));
  for (const d of kernel.host.devices) {
    const fn = devices.function(d.bdf);
    if (fn) {
      add(`pci:${d.bdf}`, fn, { kind: "fields", fields: ["config"] });
      if (fn.bars instanceof EduDevice) {
        add(`edu:${d.bdf}`, fn.bars, {
          kind: "fields",
          fields: ["buffer", "regs", "liveness", "outOfRange"],
        });
        add(`edu:${d.bdf}.dmaTimer`, fn.bars.dmaTimer);
      }
    }
    add(`dma:${d.bdf}`, devices.dma(d.bdf));
  }
  const services = priv<Map<string, unknown>>(kernel, "services");
  for (const key of wiredServiceKeys(kernel.host, kernel.features)) {
    const v = services.get(key);
    if (typeof v === "object" && v !== null) add(`service:${key}`, v, hasFunctions(v) ? NONE : all(v));
  }
  stdioFile ??= new Process({ pid: 0 }).getFile(0);
  add("stdio", stdioFile);
  add("msi-doorbell", HOST_MSI_DOORBELL);
  return out;
}

// ---- save ----

function hex(v: unknown): unknown {
  return JSON.parse(
    JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? "0x" + x.toString(16) : x)),
  ) as unknown;
}

function kernelOf(s: System | Kernel): Kernel {
  return s instanceof Kernel ? s : s.kernel;
}

function summarise(kernel: Kernel): StateSummary {
  const users = priv<Map<number, { lockedVm: bigint }>>(kernel, "users");
  return {
    clockMs: kernel.nowMs,
    lockedVm: Object.fromEntries([...users].map(([uid, a]) => [String(uid), Number(a.lockedVm)])),
    processes: kernel.liveProcesses().map((p) => ({
      pid: p.pid,
      uid: p.uid,
      mmLockedVm: Number(p.mm.lockedVm),
      vmas: p.memory.list().length,
      fds: p.openFds().map((fd) => ({ fd, kind: p.getFile(fd).kind })),
    })),
    kmsgLines: kernel.kmsg.mark(),
  };
}

function digestOf(d: Omit<StateDocument, "digest" | "format" | "version">): string {
  const body = JSON.stringify([d.host, d.features, d.summary, d.graph]);
  return "sha256:" + createHash("sha256").update(body).digest("hex");
}

/** The whole system as a state document (plain JSON). Throws `StateError` for unsaveable state. */
export function saveState(system: System | Kernel, opts: SaveOptions = {}): StateDocument {
  const kernel = kernelOf(system);
  const root = {
    kernel,
    dmaOwners: dmaOwnerTable(kernel.host),
    extra: opts.extra ?? null,
  };
  const graph = encodeGraph(root, { anchors: kernelAnchors(kernel), classes: STATE_CLASSES });
  const body = {
    host: hostToJson(kernel.host),
    features: hex(kernel.features),
    summary: summarise(kernel),
    graph,
  };
  return { format: STATE_FORMAT, version: STATE_VERSION, digest: digestOf(body), ...body };
}

/** `saveState` as text (one line per document is not needed: pretty JSON, trailing newline). */
export function stateToText(system: System | Kernel, opts: SaveOptions = {}): string {
  return JSON.stringify(saveState(system, opts)) + "\n";
}

// ---- load ----

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Features must have the derived features' shape exactly (keys and value types). */
function checkFeatures(v: unknown, template: unknown, path: string): void {
  if (isRecord(template)) {
    if (!isRecord(v)) throw new StateError(`${path}: expected an object`);
    for (const k of Object.keys(v)) if (!(k in template)) throw new StateError(`${path}: unknown key "${k}"`);
    for (const [k, t] of Object.entries(template)) checkFeatures(v[k], t, `${path}.${k}`);
    return;
  }
  if (typeof v !== typeof template) throw new StateError(`${path}: expected a ${typeof template}`);
}

function envelope(json: unknown): StateDocument {
  if (!isRecord(json)) throw new StateError("not an ioas state: expected a JSON object");
  if (json["format"] !== STATE_FORMAT)
    throw new StateError(
      `not an ioas state ("format" is ${JSON.stringify(json["format"])}, expected "${STATE_FORMAT}")`,
    );
  const version = json["version"];
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1)
    throw new StateError(`"version" must be a positive integer, got ${JSON.stringify(version)}`);
  if (version > STATE_VERSION)
    throw new StateError(
      `state version ${version} is newer than this ioas reads (up to ${STATE_VERSION}); upgrade ioas`,
    );
  if (version < STATE_VERSION)
    throw new StateError(
      `state version ${version} was written by an older ioas (its records have another layout); this ioas reads version ${STATE_VERSION}: save the state again`,
    );
  const keys = ["format", "version", "digest", "host", "features", "summary", "graph"];
  for (const k of Object.keys(json)) if (!keys.includes(k)) throw new StateError(`unknown key "${k}"`);
  for (const k of keys) if (!(k in json)) throw new StateError(`missing key "${k}" (truncated document?)`);
  if (typeof json["digest"] !== "string") throw new StateError(`"digest" must be a string`);
  return json as unknown as StateDocument;
}

/**
 * Rebuild a live system from a state document (parsed JSON or its text). Nothing is shared with any
 * other system; on any problem a `StateError` is thrown and nothing was built that anyone can see.
 */
export function restoreState(input: unknown): RestoredState {
  let json = input;
  if (typeof input === "string") {
    try {
      json = JSON.parse(input);
    } catch (e) {
      throw new StateError(`not valid JSON (truncated or corrupted?): ${(e as Error).message}`);
    }
  }
  const doc = envelope(json);
  if (digestOf(doc) !== doc.digest)
    throw new StateError("digest mismatch: the document was corrupted or edited");

  let host: Host;
  try {
    host = snapshotFromText(
      JSON.stringify({ format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, host: doc.host }),
      "state.host",
    );
  } catch (e) {
    if (e instanceof HostReadError) throw new StateError(`host: ${e.message}`);
    throw e;
  }
  const template = kernelFeatures(host.params.kernelRelease, host.params.iommufd !== null);
  checkFeatures(doc.features, template, "features");
  const features = doc.features as KernelFeatures;

  const system = createSystem(host, { features });
  const anchors = new Map(kernelAnchors(system.kernel).map((a) => [a.name, a]));
  const graph = validateGraph(doc.graph, { classes: STATE_CLASSES, anchors });
  const root = decodeGraph(graph, { classes: STATE_CLASSES, anchors });
  if (
    !isRecord(root) ||
    root["kernel"] !== system.kernel ||
    !(root["dmaOwners"] instanceof Map) ||
    Object.keys(root).join() !== "kernel,dmaOwners,extra"
  )
    throw new StateError("graph.root: expected { kernel, dmaOwners, extra }");
  const owners = dmaOwnerTable(host);
  for (const [k, v] of root["dmaOwners"] as Map<number, { owner: object; count: number }>) owners.set(k, v);

  // The rebuilt system must save to the very same document (every field was understood).
  const again = saveState(system, { extra: root["extra"] });
  if (!isDeepStrictEqual(again, json))
    throw new StateError(
      "the document does not describe a consistent system (it saves back differently); refused",
    );
  reserveIds(system.kernel, root["extra"]);
  return { system, kernel: system.kernel, extra: root["extra"] };
}

/** `loadState(json) → System`: `restoreState` without the extra data. */
export function loadState(input: unknown): System {
  return restoreState(input).system;
}

/** New objects of the restored system must not reuse ids of restored ones (ids are process-wide). */
function reserveIds(kernel: Kernel, extra: unknown): void {
  const seen = new Set<unknown>();
  const stack: unknown[] = [kernel, extra];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== "object" || v === null || seen.has(v) || ArrayBuffer.isView(v)) continue;
    seen.add(v);
    if (v instanceof MemoryObject) reserveMemoryObjectIds(v.id);
    else if (v instanceof IommuDomain) reserveDomainIds(v.id);
    else if (v instanceof VfioContainer) reserveContainerIds(v.id);
    if (v instanceof Map)
      for (const [k, x] of v) {
        stack.push(k);
        stack.push(x);
      }
    else if (v instanceof Set) for (const x of v) stack.push(x);
    else if (v !== kernel.devices) for (const x of Object.values(v)) stack.push(x);
  }
}
