/**
 * The replayer (FORMAT.md §7): walks a trace's records in seq order against a simulated kernel,
 * rebuilding each section's process, binding fd names, building every argument as the recording
 * program did, and comparing ret, errno and every `out` field with the record.
 *
 * Record outcomes: `pass`; `fail` (with field mismatches or a reason: not implemented, engine
 * error, malformed record); `skip` (device-fd records whose file does not model device regions).
 */

import { IoasError } from "../core/errno.js";
import type { Host } from "../core/topology/types.js";
import type { Process, SyscallResult } from "../process/process.js";
import { NotImplementedError } from "../uapi/file.js";
import { FieldValueError } from "../uapi/struct.js";
import { createSystem, type Kernel } from "../uapi/system.js";
import { ioctlOp, STACK_BASE, type ArgContext, type CallResult } from "./args/index.js";
import { compareOutInto, type Mismatch } from "./compare.js";
import { configWrite, eduDma, supportsRegionIo } from "./device-ops.js";
import { hostFromRun } from "./host-from-run.js";
import type { Trace } from "./loader.js";
import { applyMmapEvent, memoryOp } from "./memory-ops.js";
import {
  MAX_STAGED_ARGUMENT,
  numIn,
  RecordValueError,
  strIn,
  u64In,
  type JsonObject,
  type OpRecord,
  type TraceRecord,
} from "./records.js";

export type RecordStatus = "pass" | "fail" | "skip";

export interface RecordResult {
  readonly seq: number;
  readonly line: number;
  readonly section: string;
  readonly case: string;
  readonly op: string;
  readonly fd: string;
  readonly status: RecordStatus;
  readonly mismatches: readonly Mismatch[];
  /** Why a record failed without field mismatches, or why it was skipped. */
  readonly reason?: string;
}

export interface ReplayResult {
  readonly file: string;
  readonly name: string;
  readonly results: readonly RecordResult[];
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

/**
 * The private region argument structs live in (never used by the traces); its size is the bound on
 * one staged argument that `sizeIn` enforces.
 */
export const STACK_SIZE = BigInt(MAX_STAGED_ARGUMENT);
const STACK_SIZE_N = Number(STACK_SIZE);

const MEMORY_OPS = new Set(["mmap", "munmap", "mprotect", "fill", "CHECK_MEMORY"]);

/** A problem of the replay itself (unbound fd name, op outside a section…): the record fails. */
export class ReplayError extends Error {
  override readonly name = "ReplayError";
}

interface Outcome {
  readonly status: RecordStatus;
  readonly mismatches?: readonly Mismatch[];
  readonly reason?: string;
}

type RetMode = "exact" | "sign";

function compareCall(rec: OpRecord, got: SyscallResult, out: JsonObject, retMode: RetMode): Mismatch[] {
  const m: Mismatch[] = [];
  const retOk = retMode === "sign" ? rec.ret < 0 === got.ret < 0 : rec.ret === got.ret;
  if (!retOk) m.push({ field: "ret", want: rec.ret, got: got.ret });
  if (rec.errno !== got.errno) m.push({ field: "errno", want: rec.errno, got: got.errno });
  return compareOutInto(rec.out, out, m);
}

function outcome(m: readonly Mismatch[]): Outcome {
  return m.length === 0 ? { status: "pass" } : { status: "fail", mismatches: m };
}

/** What the replayer carries between records (saved with a state for `--load-state --from`). */
export interface ReplayerState {
  readonly process: Process | null;
  readonly names: ReadonlyMap<string, number>;
  readonly metaMmaps: readonly JsonObject[];
  readonly regions: ReadonlyMap<string, ReadonlyMap<number, bigint>>;
  readonly stackCursor: bigint;
}

/** Arguments up to this size are staged in an off-heap buffer before being written (see `stack`). */
const STAGING_MAX = 64;

/**
 * The `ArgContext` of the ioctl records: one per replayer, its process, fd and stack cursor set
 * before each build (a fresh object of five closures per record was a tenth of the replay).
 */
class ReplayArgs implements ArgContext {
  process!: Process;
  fd = -1;
  /** Next free byte of the replayer stack (reset before every ioctl record). */
  cursor = 0;
  private readonly staging = new Uint8Array(new ArrayBuffer(STAGING_MAX));

  constructor(
    readonly kernel: Kernel,
    private readonly names: Map<string, number>,
  ) {}

  fdOf(name: string): number {
    const fd = this.names.get(name);
    if (fd === undefined)
      throw new ReplayError(
        `fd "${name}" is not open here (its open/GET_DEVICE_FD failed or is not implemented)`,
      );
    return fd;
  }

  bind(name: string, fd: number): void {
    this.names.set(name, fd);
  }

  stack(bytes: Uint8Array): bigint {
    // The cursor is a number (the stack is 1 MiB): one BigInt per argument at most.
    const at = this.cursor;
    const len = bytes.length;
    if (at + len > STACK_SIZE_N) throw new ReplayError("argument larger than the replayer stack");
    const addr = at === 0 ? STACK_BASE : STACK_BASE + BigInt(at);
    // V8 keeps typed arrays of ≤ 64 bytes on its heap, and the memory write takes subarrays of them,
    // which materialises an ArrayBuffer each time: small arguments are staged in an off-heap buffer.
    let data = bytes;
    if (bytes.length <= STAGING_MAX) {
      this.staging.set(bytes);
      data = this.staging.subarray(0, bytes.length);
    }
    this.process.memory.write(addr, data);
    // Keep each piece 16-byte aligned, like a compiler would.
    this.cursor = at + Math.ceil(len / 16) * 16;
    return addr;
  }

  read(addr: bigint, length: number): Uint8Array {
    return this.process.memory.read(addr, length);
  }

  write(addr: bigint, bytes: Uint8Array): void {
    this.process.memory.write(addr, bytes);
  }
}

/** Replays records one at a time against `kernel`. */
export class Replayer {
  private process: Process | null = null;
  private readonly names = new Map<string, number>();
  private readonly metaMmaps: JsonObject[] = [];
  /** Region file offsets per device fd name, from GET_REGION_INFO records (index → offset). */
  private readonly regions = new Map<string, Map<number, bigint>>();
  /** The argument context, reused by every ioctl record (its methods are not re-created per call). */
  private readonly args: ReplayArgs;

  constructor(readonly kernel: Kernel) {
    this.args = new ReplayArgs(kernel, this.names);
  }

  /** A copy of the between-records state (the process is shared, not copied). */
  toState(): ReplayerState {
    return {
      process: this.process,
      names: new Map(this.names),
      metaMmaps: [...this.metaMmaps],
      regions: new Map([...this.regions].map(([k, m]) => [k, new Map(m)])),
      stackCursor: BigInt(this.args.cursor),
    };
  }

  /** A replayer continuing from `state` on `kernel` (the kernel the state's process lives in). */
  static fromState(kernel: Kernel, state: ReplayerState): Replayer {
    const r = new Replayer(kernel);
    r.process = state.process;
    for (const [k, v] of state.names) r.names.set(k, v);
    r.metaMmaps.push(...state.metaMmaps);
    for (const [k, m] of state.regions) r.regions.set(k, new Map(m));
    r.args.cursor = Number(state.stackCursor);
    return r;
  }

  /** Feed one record; op records produce a result, events produce none. */
  step(rec: TraceRecord): RecordResult | null {
    if (rec.kind === "event") {
      this.event(rec.event, rec.section, rec.fields);
      return null;
    }
    const o = this.op(rec);
    const res: { -readonly [K in keyof RecordResult]: RecordResult[K] } = {
      seq: rec.seq,
      line: rec.line,
      section: rec.section,
      case: rec.case,
      op: rec.op,
      fd: rec.fd,
      status: o.status,
      mismatches: o.mismatches ?? [],
    };
    if (o.reason !== undefined) res.reason = o.reason;
    return res;
  }

  /** End of the trace: a section still open is ended (its process exits). */
  finish(): void {
    this.endSection();
  }

  private event(event: string, section: string, fields: JsonObject): void {
    switch (event) {
      case "mmap":
        if (section === "meta") this.metaMmaps.push(fields);
        else if (this.process) applyMmapEvent(this.process.memory, fields);
        break;
      case "begin":
        this.beginSection();
        break;
      case "end":
        this.endSection();
        break;
      default:
        // start, device, random_config, skip, note, fatal, section_failed, done: information only.
        break;
    }
  }

  private beginSection(): void {
    this.endSection();
    const p = this.kernel.spawn();
    // The child's address space: every meta mapping (process- and section-scoped) with its fill.
    for (const m of this.metaMmaps) applyMmapEvent(p.memory, m);
    p.memory.mmap(STACK_BASE, STACK_SIZE, "rw", { label: "replayer stack" });
    this.process = p;
  }

  private endSection(): void {
    if (this.process) this.kernel.exit(this.process);
    this.process = null;
    this.names.clear();
    this.regions.clear();
  }

  private fdOf(name: string): number {
    return this.args.fdOf(name);
  }

  private op(rec: OpRecord): Outcome {
    // The engine reports every errno by throwing an IoasError, and V8 captures `stackTraceLimit`
    // frames per throw (the dominant cost of a failing call). The only frame the replay ever reads
    // is the top one (the "engine error" reason below), which a limit of 1 keeps.
    const limit = Error.stackTraceLimit;
    if (typeof limit === "number" && limit > 1) Error.stackTraceLimit = 1;
    try {
      return this.opInner(rec);
    } catch (e) {
      if (e instanceof NotImplementedError)
        return { status: "fail", reason: `not implemented: ${e.message}` };
      if (e instanceof ReplayError) return { status: "fail", reason: e.message };
      if (e instanceof RecordValueError) return { status: "fail", reason: `bad record: ${e.message}` };
      if (e instanceof IoasError) return { status: "fail", reason: `replayer: ${e.message}` };
      const err = e as Error;
      const where = err.stack?.split("\n")[1]?.trim() ?? "";
      return {
        status: "fail",
        reason: `engine error: ${err.name}: ${err.message}${where ? ` (${where})` : ""}`,
      };
    } finally {
      Error.stackTraceLimit = limit;
    }
  }

  private opInner(rec: OpRecord): Outcome {
    const p = this.process;
    if (!p) throw new ReplayError("op record outside a section (no process)");

    if (rec.fd === "memory" && MEMORY_OPS.has(rec.op)) {
      const { res, out } = memoryOp(p, rec.op, rec.in);
      return outcome(compareCall(rec, res, out, "exact"));
    }

    switch (rec.op) {
      case "open":
        return this.open(p, rec);
      case "close": {
        const fd = this.fdOf(rec.fd);
        const res = p.syscall(() => {
          p.close(fd);
          return 0;
        });
        this.names.delete(rec.fd);
        this.regions.delete(rec.fd);
        return outcome(compareCall(rec, res, {}, "exact"));
      }
      case "config_write":
      case "EDU_DMA":
        return this.deviceIo(p, rec);
      default:
        return this.ioctl(p, rec);
    }
  }

  private open(p: Process, rec: OpRecord): Outcome {
    const path = strIn(rec.in, "path");
    if (rec.ret >= 0 && this.kernel.nodeExists(path) && !this.kernel.hasNode(path)) {
      throw new NotImplementedError(`no device node registered for ${path}`);
    }
    const res = p.syscall(() => p.open(path));
    if (res.ret >= 0) {
      const old = this.names.get(rec.fd);
      if (old !== undefined && p.lookupFile(old)) {
        throw new ReplayError(`fd name "${rec.fd}" re-bound while still open`);
      }
      this.names.set(rec.fd, res.ret);
    }
    // `ret` of open is the fd number: only success vs failure is compared.
    return outcome(compareCall(rec, res, {}, "sign"));
  }

  private deviceIo(p: Process, rec: OpRecord): Outcome {
    const file = p.getFile(this.fdOf(rec.fd));
    if (!supportsRegionIo(file)) {
      return {
        status: "skip",
        reason: `${rec.op}: the ${file.kind} file has no pread/pwrite (device regions)`,
      };
    }
    const regions = this.regions.get(rec.fd);
    const bar0 = regions?.get(0);
    if (bar0 === undefined) throw new ReplayError(`${rec.op}: no preceding GET_REGION_INFO for BAR0`);
    if (rec.op === "config_write") {
      const cfg = regions?.get(7);
      if (cfg === undefined)
        throw new ReplayError("config_write: no preceding GET_REGION_INFO for config space");
      const r = configWrite(file, cfg, bar0);
      return outcome(compareCall(rec, r, r.out, "exact"));
    }
    const r = eduDma(this.kernel, file, bar0, rec.in);
    return outcome(compareCall(rec, r, r.out, "exact"));
  }

  private ioctl(p: Process, rec: OpRecord): Outcome {
    const op = ioctlOp(rec.op);
    if (!op) throw new RecordValueError(`unknown op ${rec.op}`);
    if (rec.op === "VFIO_DEVICE_GET_REGION_INFO" && rec.ret >= 0) {
      // config_write / EDU_DMA use the offsets the kernel reported (FORMAT.md §4.4).
      const m = this.regions.get(rec.fd) ?? new Map<number, bigint>();
      m.set(numIn(rec.in, "index"), u64In(rec.out, "offset"));
      this.regions.set(rec.fd, m);
    }
    const fd = this.fdOf(rec.fd);
    const file = p.getFile(fd);
    if (op.optional && !(file.supports?.(op.request) ?? false)) {
      return { status: "skip", reason: `${rec.op}: not supported by the ${file.kind} file` };
    }
    const ctx = this.args;
    ctx.process = p;
    ctx.fd = fd;
    ctx.cursor = 0;
    let built: ReturnType<typeof op.build>;
    try {
      built = op.build(ctx, rec.in, rec.out);
    } catch (e) {
      // A record value that does not fit its struct field is the record's fault, not the engine's.
      if (e instanceof FieldValueError) throw new RecordValueError(e.message);
      throw e;
    }
    const raw = p.ioctl(fd, op.request, built.arg);
    const res: CallResult = raw;
    built.after?.(res);
    const out = built.out(res);
    const reported: SyscallResult = {
      ret: op.normaliseRet ? op.normaliseRet(raw.ret) : raw.ret,
      errno: raw.errno,
    };
    return outcome(compareCall(rec, reported, out, "exact"));
  }
}

/** Replay records against a kernel; returns one result per op record. */
export function replayRecords(kernel: Kernel, records: readonly TraceRecord[]): RecordResult[] {
  const r = new Replayer(kernel);
  const out: RecordResult[] = [];
  for (const rec of records) {
    const res = r.step(rec);
    if (res) out.push(res);
  }
  r.finish();
  return out;
}

export function summarise(file: string, name: string, results: readonly RecordResult[]): ReplayResult {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const r of results) {
    if (r.status === "pass") passed++;
    else if (r.status === "fail") failed++;
    else skipped++;
  }
  return { file, name, results, passed, failed, skipped };
}

export interface ReplayOptions {
  /** Use this host instead of the one built from the run definition and sysfs dump. */
  readonly host?: Host;
  /** Build the kernel (default: `createSystem(host).kernel`, every default node registered). */
  readonly kernel?: (host: Host) => Kernel;
}

/** Replay a loaded trace on a fresh kernel built from its run definition and sysfs dump. */
export function replayTrace(trace: Trace, opts: ReplayOptions = {}): ReplayResult {
  const host = opts.host ?? hostFromRun(trace.run, trace.sysfs, trace.sysfsFile);
  const kernel = opts.kernel ? opts.kernel(host) : createSystem(host).kernel;
  return summarise(trace.file, trace.name, replayRecords(kernel, trace.records));
}
