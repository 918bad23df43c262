/**
 * The one error type of the engine: a Linux errno with the operation that raised it.
 *
 * Core code throws `IoasError`; the uAPI boundary turns it into `-1` + errno, the typed API lets it
 * propagate. Numbers are x86-64 / arm64 Linux values.
 */

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
  ENOSPC: 28,
  ERANGE: 34,
  EDEADLOCK: 35,
  ENOSYS: 38,
  EBADMSG: 74,
  EOVERFLOW: 75,
  EBADFD: 77,
  EMSGSIZE: 90,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  ETIMEDOUT: 110,
  ENOIOCTLCMD: 515,
  ENOTSUPP: 524,
} as const;

export type ErrnoName = keyof typeof ERRNO;

const BY_NUMBER = new Map<number, ErrnoName>(
  (Object.entries(ERRNO) as [ErrnoName, number][]).map(([name, n]) => [n, name]),
);

export function errnoName(n: number): string {
  return BY_NUMBER.get(n) ?? `E${n}`;
}

export function isErrnoName(s: string): s is ErrnoName {
  return Object.hasOwn(ERRNO, s);
}

/** Whether an IoasError captures a JS stack (see `withoutErrnoStacks`). */
let errnoStacks = true;

/**
 * Run `fn` with IoasError stack capture off. Under a syscall an errno becomes the return value and
 * its JS stack is never seen, yet capturing it was a fifth of a trace replay's time. Other errors
 * (engine bugs) keep their stacks.
 */
export function withoutErrnoStacks<R>(fn: () => R): R {
  const prev = errnoStacks;
  errnoStacks = false;
  try {
    return fn();
  } finally {
    errnoStacks = prev;
  }
}

export class IoasError extends Error {
  override readonly name = "IoasError";
  readonly errno: ErrnoName;
  readonly op: string;
  /** Optional structured detail for the typed API (e.g. which mapping conflicts with which region). */
  readonly detail: Readonly<Record<string, unknown>> | undefined;

  constructor(errno: ErrnoName, op: string, message?: string, detail?: Record<string, unknown>) {
    const limit = Error.stackTraceLimit;
    if (!errnoStacks) Error.stackTraceLimit = 0;
    super(`${op}: ${errno}${message ? ` (${message})` : ""}`);
    Error.stackTraceLimit = limit;
    this.errno = errno;
    this.op = op;
    this.detail = detail;
  }

  get code(): number {
    return ERRNO[this.errno];
  }

  toJSON(): { errno: ErrnoName; code: number; op: string; message: string } {
    return { errno: this.errno, code: this.code, op: this.op, message: this.message };
  }
}

/** Throw the kernel's errno for `op`. Typed `never` so it ends control flow. */
export function fail(
  errno: ErrnoName,
  op: string,
  message?: string,
  detail?: Record<string, unknown>,
): never {
  throw new IoasError(errno, op, message, detail);
}

export function isIoasError(e: unknown): e is IoasError {
  return e instanceof IoasError;
}
