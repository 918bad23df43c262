import { describe, expect, it } from "vitest";
import { sweep, type SweepScenario } from "../../src/core/fault-sweep.js";
import { fail } from "../../src/core/errno.js";
import { shouldFail } from "../../src/core/fault.js";

/** A toy store with two fallible steps per insert: allocation, then publication. */
interface Store {
  items: string[];
  nextId: number;
}

function scenario(buggy: boolean): SweepScenario<Store> {
  const insert = (s: Store, v: string): void => {
    const id = s.nextId; // reserve
    if (shouldFail("alloc")) fail("ENOMEM", "insert");
    if (buggy) s.nextId++; // published too early: leaks an id on the next failure
    if (shouldFail("publish")) fail("ENOMEM", "insert");
    if (!buggy) s.nextId = id + 1;
    s.items.push(v);
  };
  return {
    name: buggy ? "leaky" : "clean",
    setup: () => ({ items: [], nextId: 1 }),
    steps: [
      { name: "first", run: (s) => insert(s, "a") },
      { name: "second", run: (s) => insert(s, "b") },
    ],
    snapshot: (s) => structuredClone(s),
  };
}

describe("fail-nth sweep", () => {
  it("fails every site of every step and finds nothing wrong in a correct store", () => {
    const r = sweep(scenario(false));
    expect(r.sites).toEqual({ first: 2, second: 2 });
    expect(r.runs).toBe(4);
    expect(r.errnos).toEqual({ ENOMEM: 4 });
    expect(r.failures).toEqual([]);
  });

  it("catches a state change left behind by a failed call", () => {
    const r = sweep(scenario(true));
    expect(r.failures.map((f) => [f.step, f.site])).toEqual([
      ["first", "publish"],
      ["second", "publish"],
    ]);
  });
});
