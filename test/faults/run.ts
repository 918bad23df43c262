/**
 * The fail-nth runner over the transcribed scenarios and the recorded vectors (used by
 * scripts/test-faults.ts in full and by test/faults/faults.test.ts on a fast subset).
 */

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { sweep } from "../../src/core/fault-sweep.js";
import { loadTrace } from "../../src/replay/loader.js";
import { listVectorFiles } from "../../src/replay/suite.js";
import { SCENARIOS } from "./scenarios.js";
import { sweepTrace, type VectorSweepReport } from "./vector-sweep.js";

export interface FaultLine {
  readonly name: string;
  readonly runs: number;
  readonly failed: number;
  readonly sites: Record<string, number>;
  readonly errnos: Record<string, number>;
  readonly problems: string[];
}

export function runScenarios(): FaultLine[] {
  return SCENARIOS.map((s) => {
    const r = sweep(s);
    const sites: Record<string, number> = {};
    return {
      name: `scenario ${s.name}`,
      runs: r.runs,
      failed: new Set(r.failures.map((f) => `${f.step}/${f.n}`)).size,
      sites,
      errnos: r.errnos as Record<string, number>,
      problems: r.failures.map((f) => `${f.step} n=${f.n} ${f.site ?? "-"}: ${f.problem}`),
    };
  });
}

export function runVectors(dir: string, opts: { sample?: number; only?: RegExp } = {}): FaultLine[] {
  return listVectorFiles(dir)
    .filter((f) => !opts.only || opts.only.test(f))
    .map((f) => {
      const r: VectorSweepReport = sweepTrace(loadTrace(f), opts.sample ? { sample: opts.sample } : {});
      return {
        name: `vector ${f.slice(dir.length + 1)} (${r.records} records, ${r.committed} committed copy-outs, ${r.absorbed} absorbed)`,
        runs: r.runs,
        failed: r.failed,
        sites: r.sites,
        errnos: r.errnos as Record<string, number>,
        problems: r.failures.map(
          (x) => `seq ${x.seq} (line ${x.line}) ${x.op} n=${x.n} ${x.site ?? "-"}: ${x.problem}`,
        ),
      };
    });
}

/** Every `shouldFail("name")` site in the source tree. */
export function declaredSites(srcDir: string): string[] {
  const out = new Set<string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(".ts"))
        for (const m of readFileSync(p, "utf8").matchAll(/shouldFail\("([^"]+)"\)/g)) out.add(m[1]!);
    }
  };
  walk(srcDir);
  return [...out].sort();
}
