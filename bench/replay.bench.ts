/**
 * Workload 7: replay of the largest vector in ../shared/vectors (by file size), records per second.
 *
 * Two rows, both the median of timed runs after warm-up runs (the replay is a few ms: a best-of
 * figure would mostly measure the luckiest scheduling on a shared machine):
 * - `replay_largest_vector`: the whole replay as `ioas replay` does it — read and parse the .jsonl
 *   and its siblings, build the host from the run definition and sysfs dump, build the kernel,
 *   execute every record and compare it (`loadTrace` + `replayTrace`);
 * - `replay_largest_vector_exec`: the same without the load (trace parsed once, outside the timing):
 *   host, kernel, execute, compare.
 */

import { statSync } from "node:fs";
import path from "node:path";
import { replayTrace } from "../src/replay/executor.js";
import { loadTrace } from "../src/replay/loader.js";
import { listVectorFiles } from "../src/replay/suite.js";
import { median, now, repoRoot, type Bench, type Row } from "./lib.js";

const VECTORS = path.resolve(repoRoot(), "../shared/vectors");

export const bench: Bench = ({ quick, log }) => {
  const files = listVectorFiles(VECTORS);
  if (files.length === 0) return [];
  const largest = files.reduce((a, b) => (statSync(b).size > statSync(a).size ? b : a));
  const name = path.relative(VECTORS, largest);
  const warmup = quick ? 5 : 20;
  const runs = quick ? 10 : 50;

  const check = (failed: number): void => {
    if (failed > 0) throw new Error(`replay of ${largest}: ${failed} failed`);
  };
  const measure = (fn: () => void): number => {
    for (let i = 0; i < warmup; i++) fn();
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = now();
      fn();
      ms.push(now() - t0);
    }
    return median(ms);
  };

  const trace = loadTrace(largest);
  const n = trace.records.length;
  let passed = 0;
  let ops = 0;
  const whole = measure(() => {
    const r = replayTrace(loadTrace(largest));
    check(r.failed);
    passed = r.passed;
    ops = r.results.length;
  });
  const exec = measure(() => check(replayTrace(trace).failed));
  const load = measure(() => void loadTrace(largest));

  const row = (workload: string, ms: number, what: string, extra = ""): Row => ({
    workload,
    impl: "ioas-replay",
    n,
    ops_per_s: Math.round((n / ms) * 1e3),
    ns_per_op: Math.round((ms * 1e6) / n),
    note: `${name}: ${n} records (${ops} ops, ${passed} pass); ${what}: ${ms.toFixed(2)} ms (median of ${runs})${extra}`,
  });
  const rows = [
    row("replay_largest_vector", whole, "load+host+execute+compare", `; load alone ${load.toFixed(2)} ms`),
    row("replay_largest_vector_exec", exec, "host+execute+compare (trace already parsed)"),
  ];
  for (const r of rows) log(`${r.workload}: ${r.ops_per_s} records/s (${r.note})`);
  return rows;
};
