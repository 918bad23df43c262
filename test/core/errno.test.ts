import { describe, expect, it } from "vitest";
import { fail, IoasError, withoutErrnoStacks } from "../../src/core/errno.js";
import { Process } from "../../src/process/process.js";

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("did not throw");
}

describe("errno errors and JS stacks", () => {
  it("the typed API keeps a stack; under withoutErrnoStacks none is captured; the limit is restored", () => {
    const limit = Error.stackTraceLimit;
    const typed = caught(() => fail("EINVAL", "op", "typed")) as IoasError;
    expect(typed.stack).toMatch(/errno\.test/);
    const quiet = caught(() => withoutErrnoStacks(() => fail("ENOENT", "op"))) as IoasError;
    expect(quiet).toBeInstanceOf(IoasError);
    expect(quiet.errno).toBe("ENOENT");
    expect(quiet.stack).not.toMatch(/errno\.test/);
    expect(Error.stackTraceLimit).toBe(limit);
    // A non-errno error (an engine bug) inside keeps its stack.
    const bug = caught(() =>
      withoutErrnoStacks(() => {
        throw new Error("engine bug");
      }),
    ) as Error;
    expect(bug.stack).toMatch(/errno\.test/);
    // After the block, errno errors have stacks again.
    expect((caught(() => fail("EPERM", "op")) as IoasError).stack).toMatch(/errno\.test/);
  });

  it("a syscall turns the errno into its result and leaves stack capture on afterwards", () => {
    const p = new Process({ pid: 1 });
    expect(p.ioctl(99, 0x3b64, 0n)).toEqual({ ret: -1, errno: "EBADF" });
    expect(p.ioctl(0, 0x3b64, 0n)).toEqual({ ret: -1, errno: "ENOTTY" });
    expect((caught(() => fail("EPERM", "op")) as IoasError).stack).toMatch(/errno\.test/);
  });
});
