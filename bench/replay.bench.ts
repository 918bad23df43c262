/**
 * Workload 7: replay of the largest vector in ../shared/vectors (by file size): records per second
 * of `replayTrace` (host built from the run definition and sysfs dump, every record executed and
 * compared). Loading/parsing the JSONL is timed separately (note).
 */

import { statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { replayTrace } from "../src/replay/executor.js";
import { loadTrace } from "../src/replay/loader.js";
import { listVectorFiles } from "../src/replay/suite.js";
import { now, type Bench, type Row } from "./lib.js";

const VECTORS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../shared/vectors");

export const bench: Bench = ({ quick, log }) => {
  const files = listVectorFiles(VECTORS);
  if (files.length === 0) return [];
  const largest = files.reduce((a, b) => (statSync(b).size > statSync(a).size ? b : a));
  const t0 = now();
  const trace = loadTrace(largest);
  const loadMs = now() - t0;
  let best = Infinity;
  let passed = 0;
  let records = 0;
  for (let i = 0; i < (quick ? 3 : 10); i++) {
    const t1 = now();
    const r = replayTrace(trace);
    const ms = now() - t1;
    if (r.failed > 0) throw new Error(`replay of ${largest}: ${r.failed} failed`);
    best = Math.min(best, ms);
    passed = r.passed;
    records = r.results.length;
  }
  const name = path.relative(VECTORS, largest);
  const row: Row = {
    workload: "replay_largest_vector",
    impl: "ioas-replay",
    n: trace.records.length,
    ops_per_s: Math.round((trace.records.length / best) * 1e3),
    ns_per_op: Math.round((best * 1e6) / trace.records.length),
    note: `${name}: ${trace.records.length} records (${records} ops, ${passed} pass) in ${best.toFixed(1)} ms; load ${loadMs.toFixed(1)} ms`,
  };
  log(`${row.workload}: ${row.ops_per_s} records/s (${row.note})`);
  return [row];
};
