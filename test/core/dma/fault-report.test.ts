import { describe, expect, it } from "vitest";
import { createFaultReporter, RateLimit, vtdFaultRecords } from "../../../src/core/dma/fault-report.js";
import { permissionFault } from "../../../src/core/dma/fault.js";
import { qemuQ35VtdHost } from "../../../src/core/topology/presets.js";

const unit = qemuQ35VtdHost().iommus[0]!;
const DEV = "0000:00:04.0";

describe("VT-d fault reporting", () => {
  it("QEMU's VT-d has one fault recording register (cap.NFR = 0)", () => {
    expect(vtdFaultRecords(unit)).toBe(1);
  });

  it("a single-fault interrupt costs three rate-limit tokens: the 4th prints only its status line", () => {
    const r = createFaultReporter();
    const lines: string[][] = [];
    for (let i = 0; i < 5; i++) {
      const out: string[] = [];
      r.report(unit, [permissionFault(DEV, 0x5000000n, "read")], i * 100, (l) => out.push(l));
      lines.push(out);
    }
    expect(lines.map((l) => l.length)).toEqual([2, 2, 2, 1, 0]);
    expect(lines[3]).toEqual(["DMAR: DRHD: handling fault status reg 2"]);
    // A new window (5 s later) first reports what was suppressed.
    const later: string[] = [];
    r.report(unit, [permissionFault(DEV, 0x5000000n, "write")], 6000, (l) => later.push(l));
    expect(later[0]).toMatch(/^dmar_fault: \d+ callbacks suppressed$/);
    expect(later).toHaveLength(3);
  });

  it("faults beyond the recording registers set the overflow bit and are not printed", () => {
    const out: string[] = [];
    createFaultReporter().report(
      unit,
      [permissionFault(DEV, 0x1000n, "read"), permissionFault(DEV, 0x2000n, "read")],
      0,
      (l) => out.push(l),
    );
    expect(out).toHaveLength(2);
    expect(out[0]).toBe("DMAR: DRHD: handling fault status reg 3");
  });

  it("rate limit: burst then silence within the interval", () => {
    const rl = new RateLimit(5000, 2);
    const notes: string[] = [];
    expect([0, 1, 2].map((t) => rl.allow(t, "f", (l) => notes.push(l)))).toEqual([true, true, false]);
    expect(rl.allow(5001, "f", (l) => notes.push(l))).toBe(true);
    expect(notes).toEqual(["f: 1 callbacks suppressed"]);
  });
});
