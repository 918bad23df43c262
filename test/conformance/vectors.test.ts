/**
 * Conformance: every recorded kernel trace in ../shared/vectors is replayed; failures must be
 * listed in known-gaps.json (with a reason) and listed records must still fail, so the list only
 * shrinks. Regenerate the list with `npx tsx scripts/update-known-gaps.ts`.
 */

import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadKnownGaps } from "../../src/replay/gaps.js";
import { failureLines } from "../../src/replay/report.js";
import { listVectorFiles, runSuite } from "../../src/replay/suite.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const vectors = resolve(root, "../shared/vectors");
const gapsPath = resolve(root, "test/conformance/known-gaps.json");

describe.skipIf(!existsSync(vectors))("conformance: recorded kernel traces", () => {
  it("finds the vector files", () => {
    expect(listVectorFiles(vectors).length).toBeGreaterThan(0);
  });

  it("replays every record: no failure outside known-gaps.json, no unexpected pass", () => {
    const gaps = loadKnownGaps(gapsPath);
    const problems: string[] = [];
    let passed = 0;
    let known = 0;
    let skipped = 0;
    for (const e of runSuite(vectors, gaps)) {
      const s = e.summary;
      passed += s.passed;
      known += s.known;
      skipped += s.skipped;
      console.log(
        `${e.key}: ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped, ${s.known} known gaps`,
      );
      for (const r of s.results) {
        if (r.gapStatus === "fail") problems.push(...failureLines(r).map((l) => `${e.key} ${l}`));
        if (r.gapStatus === "unexpected-pass")
          problems.push(
            `${e.key} seq ${r.seq} ${r.section}/${r.case} ${r.op}: unexpected pass (remove from known-gaps.json)`,
          );
      }
    }
    console.log(
      `total: ${passed} passed, ${problems.length} failed, ${skipped} skipped, ${known} known gaps`,
    );
    expect(problems.slice(0, 50)).toEqual([]);
  });
});
