/**
 * A simulated user process: address space, fd table, credentials, RLIMIT_MEMLOCK and its mm's
 * locked-memory account.
 *
 * fds follow POSIX: 0, 1, 2 are taken at start (stdio, never given to the kernel here), a new fd is
 * the lowest free number, close drops one reference of the open file and the last reference releases
 * it; exit closes every fd in ascending order.
 */

import type { LockedAccount } from "../core/accounting.js";
import { fail, IoasError, withoutErrnoStacks, type ErrnoName } from "../core/errno.js";
import { U64_MAX } from "../core/u64.js";
import type { OpenFile } from "../uapi/file.js";
import { FileHandle } from "./file-handle.js";
import { AddressSpace } from "./memory.js";

export interface Credentials {
  readonly uid: number;
  readonly capIpcLock: boolean;
  readonly capSysResource: boolean;
  readonly capSysRawio: boolean;
}

/** root with every capability the VFIO/iommufd paths look at (the vectors' program). */
export const ROOT_CREDENTIALS: Credentials = {
  uid: 0,
  capIpcLock: true,
  capSysResource: true,
  capSysRawio: true,
};

export interface ProcessOptions {
  readonly pid: number;
  readonly credentials?: Partial<Credentials>;
  /** RLIMIT_MEMLOCK in bytes; default unlimited (RLIM_INFINITY). */
  readonly rlimitMemlock?: bigint;
  readonly memory?: AddressSpace;
  /** How `open(path)` reaches the kernel (set by `Kernel.spawn`). */
  readonly opener?: (process: Process, path: string) => OpenFile | FileHandle<OpenFile>;
}

export interface SyscallResult {
  readonly ret: number;
  readonly errno: ErrnoName | null;
}

/** The first fd handed out: 0, 1, 2 are stdio. */
const FIRST_FREE_FD = 3;

/** Placeholder for the stdio fds: not a device anyone can ioctl meaningfully. */
const STDIO: OpenFile = {
  kind: "other",
  ioctl: () => fail("ENOTTY", "ioctl", "not a device"),
  release: () => {},
};

export class Process {
  readonly pid: number;
  readonly memory: AddressSpace;
  readonly credentials: Credentials;
  /** RLIMIT_MEMLOCK, bytes. */
  rlimitMemlock: bigint;
  /** This process's mm: pages charged to `mm->locked_vm` (type1, iommufd in mm mode). */
  readonly mm: LockedAccount = { lockedVm: 0n };
  private readonly fds: (FileHandle<OpenFile> | undefined)[] = [];
  private readonly opener: ((process: Process, path: string) => OpenFile | FileHandle<OpenFile>) | undefined;
  private exited = false;

  constructor(opts: ProcessOptions) {
    this.pid = opts.pid;
    this.memory = opts.memory ?? new AddressSpace();
    this.credentials = { ...ROOT_CREDENTIALS, ...opts.credentials };
    this.rlimitMemlock = opts.rlimitMemlock ?? U64_MAX;
    this.opener = opts.opener;
    for (let fd = 0; fd < FIRST_FREE_FD; fd++) this.fds[fd] = new FileHandle(STDIO);
  }

  get uid(): number {
    return this.credentials.uid;
  }

  get isExited(): boolean {
    return this.exited;
  }

  /** Install a new reference to `file` at the lowest free fd. A `FileHandle` is taken over as is. */
  installFile(file: OpenFile | FileHandle<OpenFile>): number {
    if (this.exited) throw new Error(`process ${this.pid} has exited`);
    const handle = file instanceof FileHandle ? file : new FileHandle<OpenFile>(file);
    let fd = 0;
    while (this.fds[fd] !== undefined) fd++;
    this.fds[fd] = handle;
    return fd;
  }

  /** The open file behind `fd`; EBADF when it is not open. */
  getFile(fd: number): OpenFile {
    return this.getHandle(fd).file;
  }

  /** The reference-counted file behind `fd` (to take a reference with `get()`); EBADF. */
  getHandle(fd: number): FileHandle<OpenFile> {
    const h = Number.isInteger(fd) && fd >= 0 ? this.fds[fd] : undefined;
    if (!h) fail("EBADF", "fdget", `fd ${fd} is not open`);
    return h;
  }

  /** The open file behind `fd`, or undefined. */
  lookupFile(fd: number): OpenFile | undefined {
    return Number.isInteger(fd) && fd >= 0 ? this.fds[fd]?.file : undefined;
  }

  /** Open fds in ascending order. */
  openFds(): number[] {
    const out: number[] = [];
    this.fds.forEach((h, fd) => {
      if (h) out.push(fd);
    });
    return out;
  }

  /** dup(2): another fd on the same open file. */
  dup(fd: number): number {
    return this.installFile(this.getHandle(fd).get());
  }

  /** close(2): EBADF when not open; the last reference releases the file. */
  close(fd: number): void {
    const h = this.getHandle(fd);
    this.fds[fd] = undefined;
    h.put();
  }

  /** open(2) through the kernel the process belongs to; throws `IoasError` (ENOENT …). */
  open(path: string): number {
    if (!this.opener) fail("ENOENT", "open", `no kernel to open ${path}`);
    return this.installFile(this.opener(this, path));
  }

  /**
   * ioctl(2): `{ ret, errno }` as user space sees it. An `IoasError` becomes -1/errno; any other
   * exception is an engine bug and propagates.
   */
  ioctl(fd: number, request: number, arg: bigint): SyscallResult {
    return this.syscall(() => {
      const file = this.getFile(fd);
      const ret = file.ioctl({ request, arg, process: this, fd });
      if (!Number.isInteger(ret) || ret < 0) throw new Error(`ioctl handler returned ${ret} (engine bug)`);
      return ret;
    });
  }

  /** Run a syscall body: its number, or -1 with the errno of an `IoasError`. */
  syscall(body: () => number): SyscallResult {
    try {
      return { ret: withoutErrnoStacks(body), errno: null };
    } catch (e) {
      if (e instanceof IoasError) return { ret: -1, errno: e.errno };
      throw e;
    }
  }

  /** exit(2): close every fd (ascending), as the kernel's exit_files does. Idempotent. */
  exit(): void {
    if (this.exited) return;
    for (const fd of this.openFds()) this.close(fd);
    this.exited = true;
  }
}
