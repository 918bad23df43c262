/**
 * The simulated kernel: one host, its kernel features, per-user locked-memory accounts, the state of
 * each subsystem (kept by the subsystems themselves through `service()`), the device nodes, a
 * virtual clock with timers (device emulation) and the kernel log.
 *
 * Device nodes are registered by the subsystems (`registerNode`, see nodes.ts); `open()` only
 * decides whether a path exists on this host and installs the file the subsystem returns.
 */

import type { LockedAccount } from "../core/accounting.js";
import type { PinSource } from "../core/iommufd/pages.js";
import { fail } from "../core/errno.js";
import { createDeviceModels, type DeviceModels } from "../core/devices/registry.js";
import { KernelLog } from "../core/kmsg.js";
import { kernelFeatures, type KernelFeatures } from "../core/kernel.js";
import type { Host } from "../core/topology/types.js";
import { Process, type Credentials } from "../process/process.js";
import type { AddressSpace } from "../process/memory.js";
import type { OpenFile } from "./file.js";
import { registerDefaultNodes } from "./nodes.js";

export type NodeOpener = (kernel: Kernel, process: Process, path: string, match: RegExpExecArray) => OpenFile;

interface NodeEntry {
  readonly match: RegExp;
  readonly open: NodeOpener;
}

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

export interface SpawnOptions {
  readonly credentials?: Partial<Credentials>;
  /** RLIMIT_MEMLOCK in bytes (default unlimited). */
  readonly rlimitMemlock?: bigint;
  readonly memory?: AddressSpace;
}

export interface KernelOptions {
  /** Override the features derived from the host's kernel release. */
  readonly features?: KernelFeatures;
}

export class Kernel {
  readonly host: Host;
  readonly features: KernelFeatures;
  /** The kernel log (dmesg). */
  readonly kmsg = new KernelLog();
  /** Device models (config space, BARs, DMA ports) of every PCI device of the host. */
  readonly devices: DeviceModels;
  private readonly users = new Map<number, LockedAccount>();
  private readonly services = new Map<string, unknown>();
  private readonly nodes: NodeEntry[] = [];
  private readonly processes = new Set<Process>();
  /** Each live process's current pin source (`pinSource`). */
  private readonly pinSources = new Map<Process, PinSource>();
  private nextPid = 100;
  private clockMs = 0;
  private timers: Timer[] = [];
  private timerSeq = 0;
  /** How this kernel's processes reach `open` (one function, so saved states can name it). */
  private readonly opener = (proc: Process, path: string): OpenFile => this.openFile(proc, path);

  constructor(host: Host, opts: KernelOptions = {}) {
    this.host = host;
    this.features = opts.features ?? kernelFeatures(host.params.kernelRelease, host.params.iommufd !== null);
    this.devices = createDeviceModels(host, this.kmsg, {
      now: () => this.clockMs,
      schedule: (ms, fn) => this.schedule(ms, fn),
    });
  }

  /** The user's `user_struct->locked_vm` (pages), created on first use. */
  userAccount(uid: number): LockedAccount {
    let a = this.users.get(uid);
    if (!a) {
      a = { lockedVm: 0n };
      this.users.set(uid, a);
    }
    return a;
  }

  /**
   * The calling process as the owner of new pinned pages (`PinSource`): one object per process,
   * shared by every page store it maps while its credentials and limits stay the same, and replaced
   * when they change (each store keeps what held when it was made). A fresh object per MAP cost 64 B
   * per live mapping.
   */
  pinSource(p: Process): PinSource {
    const userAccount = this.userAccount(p.uid);
    const cached = this.pinSources.get(p);
    // A process's memory and mm never change; its uid, CAP_IPC_LOCK and RLIMIT_MEMLOCK may.
    if (
      cached !== undefined &&
      cached.userAccount === userAccount &&
      cached.capIpcLock === p.credentials.capIpcLock &&
      cached.rlimitMemlock === p.rlimitMemlock
    )
      return cached;
    const fresh: PinSource = {
      memory: p.memory,
      userAccount,
      mmAccount: p.mm,
      capIpcLock: p.credentials.capIpcLock,
      rlimitMemlock: p.rlimitMemlock,
    };
    this.pinSources.set(p, fresh);
    return fresh;
  }

  /** Subsystem state, created once per kernel by `create` (e.g. "vfio", "iommufd"). */
  service<T>(key: string, create: (kernel: Kernel) => T): T {
    if (this.services.has(key)) return this.services.get(key) as T;
    const s = create(this);
    this.services.set(key, s);
    return s;
  }

  /** Whether a service was created (without creating it). */
  hasService(key: string): boolean {
    return this.services.has(key);
  }

  /**
   * Register a device node: `open(kernel, process, path, match)` is called for paths matching `match`
   * (anchored by the caller, e.g. `/^\/dev\/vfio\/(\d+)$/`). Later registrations win.
   */
  registerNode(match: RegExp, open: NodeOpener): void {
    this.nodes.unshift({ match, open });
  }

  /** Whether the host has this device node at all, whatever is registered for it. */
  nodeExists(path: string): boolean {
    if (path === "/dev/iommu") return this.features.iommufd;
    if (path.startsWith("/dev/vfio/devices/")) return this.host.params.vfioDeviceCdev;
    return true;
  }

  /** Whether some subsystem handles `path`. */
  hasNode(path: string): boolean {
    return (
      this.nodeExists(path) && this.nodes.some((n) => new RegExp(n.match.source, n.match.flags).test(path))
    );
  }

  /** open(2): the opened file (the caller installs it); ENOENT for unknown paths. */
  openFile(process: Process, path: string): OpenFile {
    if (!this.nodeExists(path)) fail("ENOENT", "open", `${path} does not exist on this host`);
    for (const n of this.nodes) {
      const m = new RegExp(n.match.source, n.match.flags).exec(path);
      if (m) return n.open(this, process, path, m);
    }
    fail("ENOENT", "open", `no such device node ${path}`);
  }

  /** open(2) into `process`'s fd table: the new fd. Throws `IoasError`. */
  open(process: Process, path: string): number {
    return process.installFile(this.openFile(process, path));
  }

  /** A new process of this kernel (fds 0–2 taken, empty address space unless given). */
  spawn(opts: SpawnOptions = {}): Process {
    const p = new Process({
      pid: this.nextPid++,
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      ...(opts.rlimitMemlock !== undefined ? { rlimitMemlock: opts.rlimitMemlock } : {}),
      ...(opts.memory ? { memory: opts.memory } : {}),
      opener: this.opener,
    });
    this.processes.add(p);
    return p;
  }

  /** exit(2) of a process: closes all of its fds. */
  exit(process: Process): void {
    process.exit();
    this.processes.delete(process);
    this.pinSources.delete(process);
  }

  /** Live processes. */
  liveProcesses(): readonly Process[] {
    return [...this.processes];
  }

  // ---- time, timers and the log (device emulation) ----

  /** Virtual time in milliseconds since boot. */
  get nowMs(): number {
    return this.clockMs;
  }

  /** Run `fn` once `delayMs` of virtual time has passed (in `advance`). */
  schedule(delayMs: number, fn: () => void): void {
    this.timers.push({ at: this.clockMs + Math.max(0, delayMs), seq: this.timerSeq++, fn });
  }

  /** Let `ms` of virtual time pass, firing due timers in order. */
  advance(ms: number): void {
    const end = this.clockMs + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.clockMs = Math.max(this.clockMs, due.at);
      due.fn();
    }
    this.clockMs = end;
  }

  /** printk. */
  log(line: string): void {
    this.kmsg.log(line);
  }
}

export interface System {
  readonly kernel: Kernel;
  spawn(opts?: SpawnOptions): Process;
}

/** A kernel for `host` with every default device node registered, and a way to start processes. */
export function createSystem(host: Host, opts: KernelOptions = {}): System {
  const kernel = new Kernel(host, opts);
  registerDefaultNodes(kernel);
  return { kernel, spawn: (o) => kernel.spawn(o) };
}
