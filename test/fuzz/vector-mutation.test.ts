/** Fast subset of `npm run fuzz -- --vectors`: mutated copies of recorded calls on every vector. */

import { describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { loadTrace } from "../../src/replay/loader.js";
import { listVectorFiles } from "../../src/replay/suite.js";
import { VECTORS } from "../helpers/vectors.js";
import { XorShift } from "./fuzz.js";
import { mutateInput, mutateTrace } from "./vector-mutation.js";

describe.skipIf(!existsSync(VECTORS))("vector-mutation fuzzing (seeded)", () => {
  for (const file of listVectorFiles(VECTORS)) {
    it(`${file.slice(VECTORS.length + 1)}: only errnos, no state change on error`, () => {
      const r = mutateTrace(loadTrace(file), { cases: 60, seed: 3 });
      expect(r.failures).toEqual([]);
      // The mutations reach the engine: successes and several distinct errnos, not only refusals.
      const errnos = Object.keys(r.histogram).filter((k) => k !== "ok" && k !== "replayer");
      expect(errnos.length).toBeGreaterThan(1);
      expect(r.histogram["replayer"] ?? 0).toBeLessThan(r.cases / 2);
    });
  }
});

describe("mutateInput", () => {
  it("changes one to three leaves of a deep copy and names them", () => {
    const input = { argsz: "0x20", flags: "0x3", ranges: [{ start: "0x0", last: "0xfff" }], fd: "container" };
    const rng = new XorShift(9);
    for (let i = 0; i < 50; i++) {
      const { input: m, describe } = mutateInput(rng, input);
      expect(input.ranges[0]!.last).toBe("0xfff"); // the original is untouched
      expect(m["fd"]).toBe("container"); // names are not numbers: never mutated
      const changed = describe.split(", ").length;
      expect(changed).toBeGreaterThanOrEqual(1);
      expect(changed).toBeLessThanOrEqual(3);
      expect(JSON.stringify(m)).toMatch(/"0x[0-9a-f]+"/);
    }
  });
});
