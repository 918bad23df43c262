import { describe, expect, it } from "vitest";
import { qemuQ35VtdHost } from "../../src/core/topology/presets.js";
import { createSystem } from "../../src/uapi/system.js";

describe("Kernel.pinSource", () => {
  it("shares one object per process while its limits hold, a fresh one when they change", () => {
    const { kernel, spawn } = createSystem(qemuQ35VtdHost());
    const a = spawn({ rlimitMemlock: 1n << 20n });
    const b = spawn({ rlimitMemlock: 1n << 20n });
    const first = kernel.pinSource(a);
    expect(kernel.pinSource(a)).toBe(first);
    expect(kernel.pinSource(b)).not.toBe(first);
    expect(first).toMatchObject({ memory: a.memory, mmAccount: a.mm, rlimitMemlock: 1n << 20n });

    a.rlimitMemlock = 1n << 30n;
    const raised = kernel.pinSource(a);
    expect(raised).not.toBe(first);
    expect(raised.rlimitMemlock).toBe(1n << 30n);
    expect(first.rlimitMemlock).toBe(1n << 20n); // a page store made before keeps what held then
    expect(raised.userAccount).toBe(kernel.userAccount(a.uid));

    kernel.exit(a);
    expect(kernel.pinSource(a)).not.toBe(raised);
  });
});
