/**
 * Fast subset of `npm run test:faults`: every transcribed scenario in full, and a sample of records
 * of one type1, one compat and one native vector, each failing every fallible site in turn.
 */

import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runScenarios, runVectors } from "./run.js";

import { VECTORS } from "../helpers/vectors.js";

describe("fail-nth: transcribed scenarios through the uAPI", () => {
  for (const line of runScenarios()) {
    it(line.name, () => {
      expect(line.problems).toEqual([]);
      expect(line.runs).toBeGreaterThan(0);
    });
  }
});

describe.skipIf(!existsSync(VECTORS))("fail-nth: vector records (sampled)", () => {
  const only = /6\.12[^/]*\/(type1-v2|iommufd-compat-v1-rand-s1|iommufd-rand-s1)\.jsonl$/;
  for (const line of runVectors(VECTORS, { sample: 80, only })) {
    it(line.name, () => {
      expect(line.problems).toEqual([]);
      expect(line.runs).toBeGreaterThan(50);
    });
  }
});
