/**
 * The conformance suite over a vectors directory: every `<kernel>/<run>.jsonl` replayed and
 * classified against the known-gaps manifest. Used by test/conformance and
 * scripts/update-known-gaps.ts.
 */

import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { replayTrace, type ReplayResult } from "./executor.js";
import { applyGaps, gapKey, type GapSummary, type KnownGapsFile } from "./gaps.js";
import { loadTrace } from "./loader.js";

/** Every trace under `dir` (one level of kernel directories), sorted. */
export function listVectorFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const k of readdirSync(dir).sort()) {
    const sub = join(dir, k);
    if (!statSync(sub).isDirectory()) continue;
    for (const f of readdirSync(sub).sort()) if (f.endsWith(".jsonl")) out.push(join(sub, f));
  }
  return out;
}

export interface SuiteEntry {
  readonly key: string;
  readonly result: ReplayResult;
  readonly summary: GapSummary;
}

export function runSuite(dir: string, gaps: KnownGapsFile | null): SuiteEntry[] {
  return listVectorFiles(dir).map((path) => {
    const key = gapKey(path);
    const result = replayTrace(loadTrace(path));
    return { key, result, summary: applyGaps(result, gaps, key) };
  });
}
