import { describe, expect, it } from "vitest";
import fc from "fast-check";
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

  it("reads and writes agree with a byte-per-address model across VMAs, protections and page edges", () => {
    const PAGES = 8;
    const BASE = 0x40000n;
    const prots = ["rw", "r", "none"] as const;
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              k: fc.constant("mmap" as const),
              page: fc.nat(PAGES - 1),
              n: fc.integer({ min: 1, max: 3 }),
              prot: fc.constantFrom(...prots),
              fill: fc.nat(255),
            }),
            fc.record({
              k: fc.constant("write" as const),
              off: fc.nat(PAGES * 4096 - 1),
              n: fc.integer({ min: 1, max: 9000 }),
              seed: fc.nat(255),
            }),
            fc.record({
              k: fc.constant("read" as const),
              off: fc.nat(PAGES * 4096 - 1),
              // Struct-sized reads (copied by a loop) and long ones (by views).
              n: fc.oneof(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 1, max: 9000 })),
              into: fc.option(fc.nat(16)),
            }),
          ),
          { maxLength: 30 },
        ),
        (ops) => {
          const as = new AddressSpace();
          // The model: per page its protection (undefined = unmapped) and byte contents.
          const prot: ((typeof prots)[number] | undefined)[] = Array.from(
            { length: PAGES + 3 },
            () => undefined,
          );
          const bytes = new Map<number, number>();
          for (const op of ops) {
            if (op.k === "mmap") {
              as.mmap(BASE + BigInt(op.page * 4096), BigInt(op.n * 4096), op.prot, { fill: op.fill });
              for (let p = op.page; p < op.page + op.n; p++) {
                prot[p] = op.prot;
                for (let i = 0; i < 4096; i++) bytes.set(p * 4096 + i, op.fill);
              }
              continue;
            }
            const pages = [];
            for (let p = Math.floor(op.off / 4096); p <= Math.floor((op.off + op.n - 1) / 4096); p++)
              pages.push(p);
            if (op.k === "write") {
              const data = Uint8Array.from({ length: op.n }, (_, i) => (op.seed + 7 * i) & 0xff);
              const ok = pages.every((p) => prot[p] === "rw");
              expect(errnoOf(() => as.write(BASE + BigInt(op.off), data))).toBe(ok ? undefined : "EFAULT");
              if (ok) data.forEach((b, i) => bytes.set(op.off + i, b));
            } else {
              const ok = pages.every((p) => prot[p] === "rw" || prot[p] === "r");
              const want = Uint8Array.from({ length: op.n }, (_, i) => bytes.get(op.off + i)!);
              if (op.into === null) {
                if (!ok) expect(errnoOf(() => as.read(BASE + BigInt(op.off), op.n))).toBe("EFAULT");
                else expect(as.read(BASE + BigInt(op.off), op.n)).toEqual(want);
              } else {
                // readInto: the bytes land at the offset, the rest of the buffer is untouched, and
                // nothing at all is written on EFAULT.
                const buf = new Uint8Array(op.into + op.n + 3).fill(0xee);
                const expected = buf.slice();
                if (ok) expected.set(want, op.into);
                expect(errnoOf(() => as.readInto(BASE + BigInt(op.off), op.n, buf, op.into!))).toBe(
                  ok ? undefined : "EFAULT",
                );
                expect(buf).toEqual(expected);
              }
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it("copies at object offsets above 2^53 stay exact (page math falls back to bigints)", () => {
    const as = new AddressSpace();
    const top = 1n << 63n;
    as.mmap(0x1000n, top, "rw", { fill: 0x11 });
    const at = 0x1000n + top - 4096n - 3n; // straddles the last two pages of the object
    as.write(at, new Uint8Array([1, 2, 3, 4, 5, 6]));
    expect(as.read(at - 1n, 8)).toEqual(new Uint8Array([0x11, 1, 2, 3, 4, 5, 6, 0x11]));
    const pages = [...as.find(0x1000n)!.object.touched().keys()].sort((a, b) => a - b);
    expect(pages).toEqual([Number(top / 4096n) - 2, Number(top / 4096n) - 1]);
    // A neighbour one page lower is untouched (no rounding merged the pages).
    expect(as.read(at - 4096n, 4)).toEqual(new Uint8Array([0x11, 0x11, 0x11, 0x11]));
  });
});
