/**
 * `npm run test:faults`: the full fail-nth sweep — every transcribed scenario and every record of
 * every vector, failing each fallible site in turn. Ends with `N passed, N failed`; exit 1 on any
 * failure. Options: --sample N (records per vector), --only REGEX (vector paths), --vectors DIR.
 */

import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { declaredSites, runScenarios, runVectors, type FaultLine } from "../test/faults/run.js";

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// ../shared/vectors beside the repository, wherever it is checked out.
const dir = opt("--vectors") ?? fileURLToPath(new URL("../../shared/vectors", import.meta.url));
const sample = opt("--sample") !== undefined ? Number(opt("--sample")) : undefined;
const only = opt("--only") !== undefined ? new RegExp(opt("--only")!) : undefined;

const t0 = performance.now();
const lines: FaultLine[] = [
  ...runScenarios(),
  ...runVectors(dir, { ...(sample ? { sample } : {}), ...(only ? { only } : {}) }),
];
let passed = 0;
let failed = 0;
const hit = new Set<string>();
const errnos: Record<string, number> = {};
for (const l of lines) {
  passed += l.runs - l.failed;
  failed += l.failed;
  for (const s of Object.keys(l.sites)) hit.add(s);
  for (const [e, n] of Object.entries(l.errnos)) errnos[e] = (errnos[e] ?? 0) + n;
  console.log(`${l.failed ? "FAIL" : "ok  "} ${l.name}: ${l.runs} injected runs, ${l.failed} failed`);
  for (const p of l.problems.slice(0, 20)) console.log(`       ${p}`);
  if (l.problems.length > 20) console.log(`       … ${l.problems.length - 20} more`);
}
const declared = declaredSites(join(root, "src"));
const unreached = declared.filter((s) => !hit.has(s));
console.log(
  `sites: ${declared.length} declared, reached by the vectors: ${declared.length - unreached.length}`,
);
if (unreached.length)
  console.log(`  not reached by the vectors (swept by unit tests only): ${unreached.join(", ")}`);
console.log(`errnos: ${JSON.stringify(errnos)}`);
console.log(`time: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
