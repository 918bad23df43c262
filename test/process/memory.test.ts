import { describe, expect, it } from "vitest";
import { AddressSpace } from "../../src/process/memory.js";
import { IoasError } from "../../src/core/errno.js";

const TiB = 1n << 40n;

function errnoOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof IoasError) return e.errno;
    throw e;
  }
  return undefined;
}

describe("simulated address space", () => {
  it("maps 1 TiB without touching pages and reads the fill byte", () => {
    const as = new AddressSpace();
    as.mmap(TiB, TiB, "rw", { fill: 0x5a });
    expect(as.read(TiB + TiB - 4n, 4)).toEqual(new Uint8Array([0x5a, 0x5a, 0x5a, 0x5a]));
    expect(as.find(TiB)!.object.touchedPages).toBe(0);
    as.write(TiB + 4094n, new Uint8Array([1, 2, 3, 4]));
    expect(as.find(TiB)!.object.touchedPages).toBe(2);
    expect(as.read(TiB + 4093n, 6)).toEqual(new Uint8Array([0x5a, 1, 2, 3, 4, 0x5a]));
  });

  it("faults on holes, PROT_NONE and writes to read-only memory", () => {
    const as = new AddressSpace();
    as.mmap(0x10000n, 0x2000n, "r");
    as.mmap(0x20000n, 0x1000n, "none");
    expect(errnoOf(() => as.read(0x11000n, 0x1001))).toBe("EFAULT");
    expect(errnoOf(() => as.read(0x20000n, 1))).toBe("EFAULT");
    expect(errnoOf(() => as.write(0x10000n, new Uint8Array(1)))).toBe("EFAULT");
    expect(errnoOf(() => as.resolve(0x10000n, 0x1000n, true))).toBe("EFAULT");
    expect(as.resolve(0x10000n, 0x2000n, false)).toHaveLength(1);
  });

  it("pinned objects outlive munmap and MAP_FIXED replacement", () => {
    const as = new AddressSpace();
    as.mmap(0x100000n, 0x2000n, "rw");
    as.write(0x100000n, new Uint8Array([7]));
    const [pin] = as.resolve(0x100000n, 0x1000n, true);
    as.mmap(0x100000n, 0x2000n, "rw");
    expect(as.read(0x100000n, 1)[0]).toBe(0);
    expect(pin!.object.read(pin!.objectOffset, 1)[0]).toBe(7);
  });

  it("mprotect: a leading hole changes nothing; a later hole keeps the change before it (Linux)", () => {
    const as = new AddressSpace();
    as.mmap(0x100000n, 0x3000n, "rw");
    expect(errnoOf(() => as.mprotect(0xff000n, 0x2000n, "r"))).toBe("ENOMEM");
    expect(as.list()).toHaveLength(1);
    expect(errnoOf(() => as.mprotect(0x102000n, 0x2000n, "r"))).toBe("ENOMEM");
    expect(as.list().map((v) => v.prot)).toEqual(["rw", "r"]);
    as.mprotect(0x102000n, 0x1000n, "rw");
    as.mprotect(0x101000n, 0x1000n, "r");
    expect(as.list().map((v) => v.prot)).toEqual(["rw", "r", "rw"]);
    expect(errnoOf(() => as.write(0x101000n, new Uint8Array(1)))).toBe("EFAULT");
    as.write(0x102000n, new Uint8Array([9]));
    expect(as.read(0x102000n, 1)[0]).toBe(9);
  });

  it("MAP_FIXED_NOREPLACE refuses overlap", () => {
    const as = new AddressSpace();
    as.mmap(0x100000n, 0x1000n, "rw");
    expect(errnoOf(() => as.mmap(0x100000n, 0x1000n, "rw", { noReplace: true }))).toBe("EEXIST");
  });
});
