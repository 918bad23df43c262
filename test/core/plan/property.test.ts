import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planGuestMemory, type FixupMode } from "../../../src/core/plan/index.js";
import { containsRange, rangesOverlap } from "../../../src/core/ranges.js";
import { vtdHost } from "../../../src/core/topology/presets.js";
import type { ReservedRegion, ReservedType } from "../../../src/core/topology/types.js";
import { withReserved } from "./hosts.js";

const MiB = 1n << 20n;
const types: ReservedType[] = ["direct", "direct-relaxable", "reserved", "msi", "sw-msi"];

const region = fc
  .record({
    startMiB: fc.bigInt({ min: 0n, max: 96n * 1024n }),
    lenMiB: fc.bigInt({ min: 1n, max: 4096n }),
    type: fc.constantFrom(...types),
  })
  .map((r): ReservedRegion => ({
    start: r.startMiB * MiB,
    last: (r.startMiB + r.lenMiB) * MiB - 1n,
    type: r.type,
  }));

describe("planner properties", () => {
  it("a region reported mappable lies inside one usable range and meets no non-relaxable window", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(39, 48),
        fc.array(region, { maxLength: 6 }),
        fc.bigInt({ min: 1n, max: 256n * 1024n }),
        fc.constantFrom("q35", "i440fx", "cloud-hypervisor", "arm-virt"),
        fc.constantFrom<FixupMode>("none", "qemu", "split"),
        (width, extra, ramMiB, machine, fixup) => {
          const host = withReserved(vtdHost({ addressWidth: width }), 1, extra);
          const plan = planGuestMemory(host, { ram: ramMiB * MiB, groups: [1], machine, fixup });
          const blocking = host.groups[1]!.reservedRegions.filter((r) => r.type !== "direct-relaxable");
          for (const r of plan.regions) {
            if (!r.mappable) continue;
            expect(containsRange(plan.usable, r.start, r.last)).toBe(true);
            expect(blocking.some((b) => rangesOverlap(b, r))).toBe(false);
          }
          if (plan.mappable) expect(plan.regions.every((r) => r.mappable)).toBe(true);
          // Fixups move RAM, never lose or add any.
          expect(plan.regions.reduce((n, r) => n + r.size, 0n)).toBe(ramMiB * MiB);
        },
      ),
      { numRuns: 300 },
    );
  });
});
