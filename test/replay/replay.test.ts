/**
 * Replayer pieces: trace parsing errors, argument building per op against hand-computed bytes,
 * `out` reading, memory ops and CHECK_MEMORY, and the executor walking a small synthetic trace
 * against a fake device node.
 */

import { describe, expect, it } from "vitest";
import { qemuQ35VtdHost } from "../../src/core/topology/presets.js";
import { fail } from "../../src/core/errno.js";
import { Process } from "../../src/process/process.js";
import { IOCTL_OPS, ioctlOp, STACK_BASE, type ArgContext } from "../../src/replay/args/index.js";
import { decodeInfoCaps } from "../../src/replay/args/vfio.js";
import { replayRecords, summarise } from "../../src/replay/executor.js";
import { applyGaps, gapsFromResults, parseSeqs } from "../../src/replay/gaps.js";
import { parseRecords, TraceFormatError } from "../../src/replay/loader.js";
import { checkMemory, memoryOp, seq7 } from "../../src/replay/memory-ops.js";
import { textReport } from "../../src/replay/report.js";
import type { JsonObject, TraceRecord } from "../../src/replay/records.js";
import { bytesToHex, hexToBytes } from "../../src/uapi/struct.js";
import { copyFromUser, copyToUser, type OpenFile } from "../../src/uapi/file.js";
import * as N from "../../src/uapi/numbers.js";
import { createSystem, Kernel } from "../../src/uapi/system.js";

const SCRATCH = 0x10009000000n;

function setup(): { ctx: ArgContext; p: Process } {
  const p = new Process({ pid: 1 });
  p.memory.mmap(STACK_BASE, 0x100000n, "rw");
  p.memory.mmap(SCRATCH, 0x10000n, "rw");
  let cursor = 0n;
  const names = new Map<string, number>([["container", 7]]);
  const ctx: ArgContext = {
    kernel: new Kernel(qemuQ35VtdHost()),
    process: p,
    fd: 4,
    fdOf: (n) => {
      const fd = names.get(n);
      if (fd === undefined) throw new Error(`unbound ${n}`);
      return fd;
    },
    bind: (n, fd) => void names.set(n, fd),
    stack(bytes) {
      const a = STACK_BASE + cursor;
      p.memory.write(a, bytes);
      cursor += (BigInt(bytes.length) + 15n) & ~15n;
      return a;
    },
    read: (a, n) => p.memory.read(a, n),
    write: (a, b) => p.memory.write(a, b),
  };
  return { ctx, p };
}

const ok = { ret: 0, errno: null };

describe("trace loader", () => {
  const good = '{"seq":0,"section":"meta","event":"start"}\n';
  it("parses events and op records", () => {
    const recs = parseRecords(
      good +
        '{"seq":1,"section":"api","case":"c","fd":"container","op":"VFIO_GET_API_VERSION","in":{},"ret":0,"errno":null,"out":{}}\n',
      "t.jsonl",
    );
    expect(recs.map((r) => r.kind)).toEqual(["event", "op"]);
    expect(recs[1]).toMatchObject({ op: "VFIO_GET_API_VERSION", line: 2, fd: "container" });
  });

  it("reports malformed input with file:line", () => {
    expect(() => parseRecords(good + "{nope}\n", "t.jsonl")).toThrow(/^t\.jsonl:2: not valid JSON/);
    expect(() => parseRecords(good + '{"seq":5,"section":"x","event":"e"}\n', "t.jsonl")).toThrow(
      "t.jsonl:2: seq 5 out of order (expected 1)",
    );
    expect(() =>
      parseRecords(
        good + '{"seq":1,"section":"x","fd":"a","op":"open","in":{},"ret":-1,"errno":null,"out":{}}\n',
        "t",
      ),
    ).toThrow("t:2: open: ret -1 without errno");
    expect(() => parseRecords(good + '{"seq":1,"section":"x","op":"open"}\n', "t")).toThrow(
      "t:2: open: missing `fd`",
    );
    expect(() => parseRecords(good + "\n", "t")).toThrow("t:2: empty line");
  });

  it("detects a truncated last record", () => {
    expect(() => parseRecords(good + '{"seq":1,"section":"x","ev', "t.jsonl")).toThrow(
      new TraceFormatError("t.jsonl", 2, "truncated record (no final newline, not valid JSON)"),
    );
  });

  it("reads a file's bytes exactly as its text (lines, UTF-8, every error)", () => {
    const outcome = (input: string | Buffer): unknown => {
      try {
        return parseRecords(input, "t.jsonl");
      } catch (e) {
        return (e as Error).message;
      }
    };
    const texts = [
      "",
      good,
      good + '{"seq":1,"section":"é → ✓ 🐧","event":"e"}\n',
      good + '{"seq":1,"section":"x","event":"e"}', // last record complete but no newline
      good + '{"seq":1,"section":"x","ev', // truncated
      good + "\n",
      good + "\n\n",
      good + "{nope}\n",
      good + '{"seq":5,"section":"x","event":"e"}\n',
      "\n",
    ];
    for (const text of texts) expect(outcome(Buffer.from(text, "utf8"))).toEqual(outcome(text));
    const multibyte = outcome(Buffer.from(texts[2]!, "utf8")) as TraceRecord[];
    expect(multibyte[1]!.section).toBe("é → ✓ 🐧");
  });
});

describe("argument building", () => {
  it("VFIO_IOMMU_GET_INFO: 4096-byte 0xa5 buffer with argsz; raw header, flags and caps read back", () => {
    const { ctx } = setup();
    const b = IOCTL_OPS["VFIO_IOMMU_GET_INFO"]!.build(ctx, { argsz: "0x18" }, {});
    expect(b.arg).toBe(STACK_BASE);
    const buf = ctx.read(b.arg, 4096);
    expect(bytesToHex(buf.subarray(0, 8))).toBe("18000000a5a5a5a5");
    expect(buf.subarray(8).every((x) => x === 0xa5)).toBe(true);
    // Failure: the header is reported as left, no flag booleans.
    expect(b.out({ ret: -1, errno: "EINVAL" })).toEqual({
      raw_header: "18000000" + "a5".repeat(20),
      argsz: "0x18",
      flags: "0xa5a5a5a5",
      iova_pgsizes: "0xa5a5a5a5a5a5a5a5",
      cap_offset: "0xa5a5a5a5",
    });
    // Kernel wrote the header only (caps did not fit).
    ctx.write(b.arg, hexToBytes("7400000003000000001020400000000000000000"));
    expect(b.out(ok)).toMatchObject({ argsz: "0x74", flags: "0x3", cap_offset: "0x0", flag_CAPS: true });
    expect(b.out(ok)["caps"]).toBeUndefined();
  });

  it("decodes a 6.1 capability chain (packed, DMA_AVAIL at 56, IOVA_RANGE at 68)", () => {
    const buf = new Uint8Array(0x80).fill(0xa5);
    buf.set(hexToBytes("020001003800000000000000a5a5a5a5" + "0010000000000000" + "0000001000000000"), 0x18);
    buf.set(hexToBytes("0300010044000000ffff0000"), 0x38);
    buf.set(
      hexToBytes(
        "01000100000000000200000000000000" +
          "0000000000000000ffffdffe00000000" +
          "0000f0fe00000000ffffffff7f000000",
      ),
      0x44,
    );
    expect(decodeInfoCaps(buf, 0x18, 0x78)).toEqual([
      {
        offset: "0x18",
        id: 2,
        version: 1,
        next: "0x38",
        name: "MIGRATION",
        flags: "0x0",
        pgsize_bitmap: "0x1000",
        max_dirty_bitmap_size: "0x10000000",
      },
      { offset: "0x38", id: 3, version: 1, next: "0x44", name: "DMA_AVAIL", avail: 65535 },
      {
        offset: "0x44",
        id: 1,
        version: 1,
        next: "0x0",
        name: "IOVA_RANGE",
        nr_iovas: 2,
        reserved: "0x0",
        iova_ranges: [
          { start: "0x0", end: "0xfedfffff" },
          { start: "0xfef00000", end: "0x7fffffffff" },
        ],
      },
    ]);
  });

  it("VFIO_GROUP_GET_STATUS: whole struct pre-filled; booleans only on success", () => {
    const { ctx } = setup();
    const b = IOCTL_OPS["VFIO_GROUP_GET_STATUS"]!.build(ctx, { argsz: "0x4" }, {});
    expect(bytesToHex(ctx.read(b.arg, 8))).toBe("04000000a5a5a5a5");
    expect(b.out({ ret: -1, errno: "EINVAL" })).toEqual({ argsz: "0x4", flags: "0xa5a5a5a5" });
    ctx.write(b.arg + 4n, hexToBytes("01000000"));
    expect(b.out(ok)).toEqual({ argsz: "0x4", flags: "0x1", VIABLE: true, CONTAINER_SET: false });
  });

  it("VFIO_GROUP_SET_CONTAINER: pointer to an int fd (names, -1, the group's own fd)", () => {
    const { ctx } = setup();
    const op = IOCTL_OPS["VFIO_GROUP_SET_CONTAINER"]!;
    expect(bytesToHex(ctx.read(op.build(ctx, { container: "container" }, {}).arg, 4))).toBe("07000000");
    expect(bytesToHex(ctx.read(op.build(ctx, { container: "-1" }, {}).arg, 4))).toBe("ffffffff");
    expect(bytesToHex(ctx.read(op.build(ctx, { container: "group fd" }, {}).arg, 4))).toBe("04000000");
  });

  it("VFIO_GROUP_GET_DEVICE_FD: NUL-terminated name, new fd bound, ret normalised", () => {
    const { ctx } = setup();
    const op = IOCTL_OPS["VFIO_GROUP_GET_DEVICE_FD"]!;
    const b = op.build(ctx, { name: "0000:00:04.0" }, { new_fd: "device" });
    expect(new TextDecoder().decode(ctx.read(b.arg, 13))).toBe("0000:00:04.0\0");
    b.after?.({ ret: 9, errno: null });
    expect(ctx.fdOf("device")).toBe(9);
    expect(b.out({ ret: 9, errno: null })).toEqual({ new_fd: "device" });
    expect(op.normaliseRet?.(9)).toBe(0);
  });

  it("VFIO_IOMMU_UNMAP_DMA with a bitmap: vfio_bitmap after the struct, bitmap zeroed, size always", () => {
    const { ctx } = setup();
    ctx.write(SCRATCH + 0x2000n, new Uint8Array(16).fill(0xff));
    const input: JsonObject = {
      argsz: "0x30",
      flags: "0x1",
      iova: "0x40813000",
      size: "0xa000",
      "bitmap.pgsize": "0x1000",
      "bitmap.size": "0x8",
      "bitmap.data": "0x10009002000",
    };
    const b = IOCTL_OPS["VFIO_IOMMU_UNMAP_DMA"]!.build(ctx, input, {});
    expect(bytesToHex(ctx.read(b.arg, 48))).toBe(
      "30000000010000000030814000000000" +
        "00a0000000000000" +
        "0010000000000000" +
        "0800000000000000" +
        "0020000900010000",
    );
    expect(bytesToHex(ctx.read(SCRATCH + 0x2000n, 9))).toBe("0000000000000000ff");
    expect(b.out({ ret: -1, errno: "EINVAL" })).toEqual({ size: "0xa000" });
    ctx.write(b.arg + 16n, new Uint8Array(8));
    ctx.write(SCRATCH + 0x2000n, hexToBytes("0300000000000000"));
    expect(b.out(ok)).toEqual({ size: "0x0", bitmap: "0300000000000000" });
  });

  it("VFIO_IOMMU_MAP_DMA: out lists every field only when the kernel changed one", () => {
    const { ctx } = setup();
    const b = IOCTL_OPS["VFIO_IOMMU_MAP_DMA"]!.build(
      ctx,
      { argsz: "0x20", flags: "0x3", vaddr: "0x10000000000", iova: "0x0", size: "0x1000" },
      {},
    );
    expect(b.out(ok)).toEqual({});
    ctx.write(b.arg + 24n, hexToBytes("0020000000000000"));
    expect(b.out(ok)).toEqual({
      argsz: "0x20",
      flags: "0x3",
      vaddr: "0x10000000000",
      iova: "0x0",
      size: "0x2000",
    });
  });

  it("VFIO_IOMMU_DIRTY_PAGES GET_BITMAP: header + dirty_bitmap_get; bitmap only with a non-NULL buffer", () => {
    const { ctx } = setup();
    const input: JsonObject = {
      argsz: "0x30",
      flags: "0x4",
      iova: "0x589000",
      size: "0x17000",
      "bitmap.pgsize": "0x1000",
      "bitmap.size": "0x8",
      "bitmap.data": "0x0",
    };
    const b = IOCTL_OPS["VFIO_IOMMU_DIRTY_PAGES"]!.build(ctx, input, {});
    expect(bytesToHex(ctx.read(b.arg, 48))).toBe(
      "3000000004000000" +
        "0090580000000000" +
        "0070010000000000" +
        "0010000000000000" +
        "0800000000000000" +
        "0000000000000000",
    );
    expect(b.out(ok)).toEqual({});
  });

  it("IOMMU_IOAS_ALLOC: out_ioas_id pre-filled; the trailing_u32 form is zeroed", () => {
    const { ctx } = setup();
    const b = IOCTL_OPS["IOMMU_IOAS_ALLOC"]!.build(ctx, { size: "0xc", flags: "0x1" }, {});
    expect(bytesToHex(ctx.read(b.arg, 12))).toBe("0c00000001000000a5a5a5a5");
    expect(b.out({ ret: -1, errno: "EOPNOTSUPP" })).toEqual({ out_ioas_id: 2779096485 });
    const t = IOCTL_OPS["IOMMU_IOAS_ALLOC"]!.build(ctx, { size: "0x10", trailing_u32: "0x1" }, {});
    expect(bytesToHex(ctx.read(t.arg, 16))).toBe("10000000000000000000000001000000");
  });

  it("IOMMU_IOAS_IOVA_RANGES: array and alignment pre-filled; ranges = min(out, in) entries on EMSGSIZE", () => {
    const { ctx } = setup();
    const b = IOCTL_OPS["IOMMU_IOAS_IOVA_RANGES"]!.build(
      ctx,
      { size: "0x20", ioas_id: 1, num_iovas: 1, allowed_iovas: "0x10009000000" },
      {},
    );
    expect(bytesToHex(ctx.read(b.arg, 32))).toBe(
      "20000000" + "01000000" + "01000000" + "00000000" + "0000000900010000" + "a5".repeat(8),
    );
    expect(ctx.read(SCRATCH, 4096).every((x) => x === 0xa5)).toBe(true);
    ctx.write(b.arg + 8n, hexToBytes("02000000"));
    ctx.write(b.arg + 24n, hexToBytes("0010000000000000"));
    ctx.write(SCRATCH, hexToBytes("0000000000000000ffffdffe00000000"));
    expect(b.out({ ret: -1, errno: "EMSGSIZE" })).toEqual({
      num_iovas: 2,
      out_iova_alignment: "0x1000",
      ranges: [{ start: "0x0", last: "0xfedfffff" }],
    });
    expect(b.out({ ret: -1, errno: "ENOENT" })["ranges"]).toEqual([]);
  });

  it("IOMMU_IOAS_ALLOW_IOVAS writes the ranges at allowed_iovas", () => {
    const { ctx } = setup();
    IOCTL_OPS["IOMMU_IOAS_ALLOW_IOVAS"]!.build(
      ctx,
      {
        size: "0x18",
        ioas_id: 2,
        num_iovas: 1,
        allowed_iovas: "0x10009001000",
        ranges: [{ start: "0x1000", last: "0x1fff" }],
      },
      {},
    );
    expect(bytesToHex(ctx.read(SCRATCH + 0x1000n, 16))).toBe("0010000000000000ff1f000000000000");
  });

  it("IOMMU_IOAS_MAP with trailing_bytes, IOMMU_OPTION by number, BIND with -1", () => {
    const { ctx } = setup();
    const m = IOCTL_OPS["IOMMU_IOAS_MAP"]!.build(
      ctx,
      {
        size: "0x30",
        flags: "0x7",
        ioas_id: 1,
        user_va: "0x10001400000",
        length: "0x1000",
        iova: "0xb01000",
        trailing_bytes: "0x1",
      },
      {},
    );
    expect(bytesToHex(ctx.read(m.arg + 40n, 8))).toBe("0100000000000000");
    expect(m.out(ok)).toEqual({ iova: "0xb01000" });
    const o = IOCTL_OPS["IOMMU_OPTION"]!.build(
      ctx,
      {
        size: "0x18",
        option_id: "HUGE_PAGES",
        option_id_num: 1,
        op: "GET",
        op_num: 1,
        object_id: 1,
        val64: "0x0",
      },
      {},
    );
    expect(bytesToHex(ctx.read(o.arg, 24))).toBe("18000000010000000100000001000000" + "0000000000000000");
    const bnd = IOCTL_OPS["VFIO_DEVICE_BIND_IOMMUFD"]!.build(
      ctx,
      { argsz: "0x10", iommufd_valid: 0, iommufd: "-1" },
      {},
    );
    expect(bytesToHex(ctx.read(bnd.arg, 16))).toBe("1000000000000000ffffffffa5a5a5a5");
  });

  it("knows the raw `_IO(';',0xff)` op", () => {
    expect(ioctlOp("_IO(';',0xff)")?.request).toBe(0x3bff);
    expect(ioctlOp("NOPE")).toBeUndefined();
  });
});

describe("memory ops and CHECK_MEMORY", () => {
  it("seq7 and CHECK_MEMORY match the trace encodings", () => {
    expect(bytesToHex(seq7(0x10, 16))).toBe("10171e252c333a41484f565d646b7279");
    expect(checkMemory(seq7(0x10, 0x800), 0x10, 0n)).toEqual({
      equal: true,
      mismatched_bytes: "0x0",
      head: "10171e252c333a41484f565d646b7279",
    });
    const zeros = new Uint8Array(0x800);
    expect(checkMemory(zeros, 0x12, 0n)).toEqual({
      equal: false,
      mismatched_bytes: "0x7f8",
      first_mismatch_offset: "0x0",
      uniform_byte: "0x0",
      head: "00".repeat(16),
    });
    expect(bytesToHex(seq7(0, 2, 1n))).toBe("070e");
  });

  it("fill, mprotect (ENOMEM over a hole), munmap, mmap", () => {
    const p = new Process({ pid: 1 });
    p.memory.mmap(0x10000000000n, 0x4000n, "rw", { fill: 0x5a });
    expect(
      memoryOp(p, "fill", { vaddr: "0x10000000000", length: "0x10", pattern: "seq7", seed: "0x10" }).res,
    ).toEqual(ok);
    expect(
      memoryOp(p, "CHECK_MEMORY", {
        vaddr: "0x10000000000",
        len: "0x10",
        pattern: "seq7",
        seed: "0x10",
        pattern_offset: "0x0",
      }).res,
    ).toEqual(ok);
    expect(memoryOp(p, "mprotect", { addr: "0x10000000000", length: "0x8000", prot: "r" }).res).toEqual({
      ret: -1,
      errno: "ENOMEM",
    });
    // Linux keeps the protection change made before the hole.
    expect(
      memoryOp(p, "fill", { vaddr: "0x10000000000", length: "0x1", pattern: "byte", byte: "0x1" }).res.errno,
    ).toBe("EFAULT");
    expect(memoryOp(p, "mprotect", { addr: "0x10000000000", length: "0x4000", prot: "rw" }).res).toEqual(ok);
    expect(memoryOp(p, "munmap", { addr: "0x10000001000", length: "0x1000" }).res).toEqual(ok);
    expect(
      memoryOp(p, "mmap", {
        addr: "0x10000001000",
        length: "0x1000",
        prot: "rw",
        flags: "private|anonymous|fixed",
        fill: "zero",
      }).res,
    ).toEqual(ok);
    expect(bytesToHex(p.memory.read(0x10000001000n, 2))).toBe("0000");
    expect(
      memoryOp(p, "fill", { vaddr: "0x10000000000", length: "0x2", pattern: "byte", byte: "0x7" }).res,
    ).toEqual(ok);
    expect(bytesToHex(p.memory.read(0x10000000000n, 3))).toBe("07071e");
  });
});

describe("executor", () => {
  /** A fake /dev/fake: ioctl 0x3b64 returns 0; ioctl 0x3b67 (GET_STATUS) writes flags VIABLE. */
  function fakeKernel(): { kernel: Kernel; released: string[] } {
    const kernel = new Kernel(qemuQ35VtdHost());
    const released: string[] = [];
    kernel.registerNode(/^\/dev\/fake$/, () => {
      const f: OpenFile = {
        kind: "other",
        ioctl(call) {
          if (call.request === N.VFIO_GET_API_VERSION) return 0;
          if (call.request === N.VFIO_GROUP_GET_STATUS) {
            const argsz = copyFromUser(call.process, call.arg, 4);
            if (argsz[0]! < 8) fail("EINVAL", "get_status");
            copyToUser(call.process, call.arg + 4n, hexToBytes("01000000"));
            return 0;
          }
          if (call.request === N.VFIO_CHECK_EXTENSION) throw new Error("boom");
          return fail("ENOTTY", "ioctl");
        },
        release: () => void released.push("fake"),
      };
      return f;
    });
    return { kernel, released };
  }

  const trace = [
    '{"seq":0,"section":"meta","event":"mmap","scope":"section","start":"0x10009000000","length":"0x10000","prot":"rw","flags":"private|anonymous|fixed_noreplace|populate","purpose":"scratch","fill":"zero"}',
    '{"seq":1,"section":"s","event":"begin"}',
    '{"seq":2,"section":"s","case":"a","fd":"f","op":"open","in":{"path":"/dev/fake"},"ret":3,"errno":null,"out":{}}',
    '{"seq":3,"section":"s","case":"b","fd":"f","op":"VFIO_GET_API_VERSION","in":{},"ret":0,"errno":null,"out":{}}',
    '{"seq":4,"section":"s","case":"c","fd":"f","op":"VFIO_GROUP_GET_STATUS","in":{"argsz":"0x8"},"ret":0,"errno":null,"out":{"argsz":"0x8","flags":"0x1","VIABLE":true,"CONTAINER_SET":false}}',
    '{"seq":5,"section":"s","case":"d","fd":"f","op":"VFIO_GROUP_GET_STATUS","in":{"argsz":"0x4"},"ret":-1,"errno":"EINVAL","out":{"argsz":"0x4","flags":"0x0"}}',
    '{"seq":6,"section":"s","case":"e","fd":"f","op":"VFIO_CHECK_EXTENSION","in":{"arg":"0x1"},"ret":1,"errno":null,"out":{}}',
    '{"seq":7,"section":"s","case":"f","fd":"g","op":"VFIO_GET_API_VERSION","in":{},"ret":0,"errno":null,"out":{}}',
    '{"seq":8,"section":"s","case":"g","fd":"x","op":"open","in":{"path":"/dev/iommu"},"ret":4,"errno":null,"out":{}}',
    '{"seq":9,"section":"s","case":"h","fd":"memory","op":"CHECK_MEMORY","in":{"vaddr":"0x10009000000","len":"0x4","pattern":"seq7","seed":"0x0","pattern_offset":"0x0"},"ret":-1,"errno":"EBADMSG","out":{"equal":false,"mismatched_bytes":"0x3","first_mismatch_offset":"0x1","uniform_byte":"0x0","head":"00000000"}}',
    '{"seq":10,"section":"s","event":"end"}',
  ].join("\n");

  it("passes, fails with field lines and reasons, and closes fds at section end", () => {
    const { kernel, released } = fakeKernel();
    const results = replayRecords(kernel, parseRecords(trace + "\n", "t.jsonl"));
    expect(results.map((r) => [r.seq, r.status])).toEqual([
      [2, "pass"],
      [3, "pass"],
      [4, "pass"],
      [5, "fail"],
      [6, "fail"],
      [7, "fail"],
      [8, "fail"],
      [9, "pass"],
    ]);
    expect(released).toEqual(["fake"]);
    const summary = applyGaps(summarise("t.jsonl", "t", results), null, "k/t.jsonl");
    const text = textReport(summary, false).trimEnd().split("\n");
    expect(text).toContain("seq 5 s/d VFIO_GROUP_GET_STATUS: out.flags want 0x0 got 0xa5a5a5a5");
    expect(text.find((l) => l.startsWith("seq 6"))).toMatch(/engine error: Error: boom/);
    expect(text.find((l) => l.startsWith("seq 7"))).toMatch(/fd "g" is not open here/);
    expect(text.find((l) => l.startsWith("seq 8"))).toMatch(
      /not implemented: no device node registered for \/dev\/iommu/,
    );
    expect(text.at(-1)).toBe("4 passed, 4 failed");
  });

  it("a record value that cannot be staged is a bad record, not an engine error", () => {
    const { kernel } = createSystem(qemuQ35VtdHost());
    const recs = [
      '{"seq":0,"section":"s","event":"begin"}',
      '{"seq":1,"section":"s","case":"a","fd":"container","op":"open","in":{"path":"/dev/vfio/vfio"},"ret":3,"errno":null,"out":{}}',
      '{"seq":2,"section":"s","case":"b","fd":"container","op":"VFIO_IOMMU_GET_INFO","in":{"argsz":"0xffffffff"},"ret":-1,"errno":"EINVAL","out":{}}',
      '{"seq":3,"section":"s","case":"c","fd":"container","op":"VFIO_IOMMU_MAP_DMA","in":{"argsz":"0x20","flags":"0x100000003","vaddr":"0x0","iova":"0x0","size":"0x1000"},"ret":-1,"errno":"EINVAL","out":{}}',
      '{"seq":4,"section":"s","case":"d","fd":"container","op":"VFIO_IOMMU_MAP_DMA","in":{"argsz":"0x400000000020","flags":"0x3","vaddr":"0x0","iova":"0x0","size":"0x1000"},"ret":-1,"errno":"EINVAL","out":{}}',
      '{"seq":5,"section":"s","event":"end"}',
    ].join("\n");
    const results = replayRecords(kernel, parseRecords(recs + "\n", "t.jsonl"));
    expect(results.map((r) => r.status)).toEqual(["pass", "fail", "fail", "fail"]);
    expect(results[1]!.reason).toMatch(/^bad record: field argsz: 0xffffffff exceeds the replayer's 1 MiB/);
    expect(results[2]!.reason).toMatch(/^bad record: .*flags: 4294967299 does not fit u32/);
    expect(results[3]!.reason).toMatch(/^bad record: field argsz: 0x400000000020 does not fit its u32/);
  });

  it("known gaps: listed failures are known, listed passes are unexpected", () => {
    const { kernel } = fakeKernel();
    const results = replayRecords(kernel, parseRecords(trace + "\n", "t.jsonl"));
    const gaps = {
      gaps: [...gapsFromResults("k/t.jsonl", results), { file: "k/t.jsonl", seq: 3, reason: "stale" }],
    };
    expect(gaps.gaps[0]).toMatchObject({ file: "k/t.jsonl", seq: 5 });
    const s = applyGaps(summarise("t.jsonl", "t", results), gaps, "k/t.jsonl");
    expect([s.passed, s.failed, s.known, s.unexpectedPasses]).toEqual([3, 1, 4, 1]);
    expect(textReport(s, true)).toMatch(/seq 3 s\/b VFIO_GET_API_VERSION: unexpected pass/);
    expect(parseSeqs("1-3,7")).toEqual([1, 2, 3, 7]);
  });
});
