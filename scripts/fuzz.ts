/**
 * `npm run fuzz -- --cases N [--seed S]`: the uAPI fuzzer (test/fuzz/fuzz.ts). Prints cases per
 * second, the errno histogram and the failures (each reproducible from seed and case number); ends
 * with `N passed, N failed`, exit 1 on any failure.
 *
 * `npm run fuzz -- --vectors [--cases N] [--seed S] [--dir DIR]`: the vector-mutation fuzzer
 * (test/fuzz/vector-mutation.ts) — N mutated copies of recorded calls per vector in DIR (default
 * ../shared/vectors beside the checkout).
 */

import { fileURLToPath } from "node:url";
import { loadTrace } from "../src/replay/loader.js";
import { listVectorFiles } from "../src/replay/suite.js";
import { fuzz } from "../test/fuzz/fuzz.js";
import { mutateTrace } from "../test/fuzz/vector-mutation.js";

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 0) {
    console.error(`fuzz: ${name} needs a non-negative integer`);
    process.exit(2);
  }
  return v;
};
const seed = opt("--seed", 1);
const printHistogram = (h: Record<string, number>): void => {
  console.log("errno histogram:");
  for (const [k, n] of Object.entries(h).sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(12)} ${n}`);
};

if (args.includes("--vectors")) {
  const cases = opt("--cases", 500);
  const i = args.indexOf("--dir");
  const dir = i >= 0 ? args[i + 1]! : fileURLToPath(new URL("../../shared/vectors", import.meta.url));
  const files = listVectorFiles(dir);
  if (files.length === 0) {
    console.error(`fuzz: no vectors under ${dir}`);
    process.exit(2);
  }
  const t0 = performance.now();
  const hist: Record<string, number> = {};
  let total = 0;
  let failed = 0;
  for (const f of files) {
    const r = mutateTrace(loadTrace(f), { cases, seed });
    total += r.cases;
    failed += r.failed;
    for (const [k, n] of Object.entries(r.histogram)) hist[k] = (hist[k] ?? 0) + n;
    console.log(`${r.failed ? "FAIL" : "ok  "} ${f.slice(dir.length + 1)}: ${r.cases} mutated calls`);
    for (const x of r.failures.slice(0, 10))
      console.log(`       seq ${x.seq} ${x.op} (${x.mutated}): ${x.problem}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `seed ${seed}: ${total} cases in ${seconds.toFixed(1)} s (${Math.round(total / seconds)} cases/s)`,
  );
  printHistogram(hist);
  console.log(`${total - failed} passed, ${failed} failed`);
  process.exitCode = failed > 0 ? 1 : 0;
} else {
  const cases = opt("--cases", 10000);
  const r = fuzz({ cases, seed });
  console.log(
    `seed ${seed}: ${r.cases} cases in ${r.seconds.toFixed(1)} s (${Math.round(r.cases / r.seconds)} cases/s)`,
  );
  printHistogram(r.histogram);
  for (const f of r.failures.slice(0, 30))
    console.log(`FAIL case ${f.case} (${f.fd} fd, ${f.request}, arg ${f.arg}): ${f.problem}`);
  if (r.failures.length > 30) console.log(`… ${r.failures.length - 30} more`);
  console.log(`${r.passed} passed, ${r.failed} failed`);
  process.exitCode = r.failed > 0 ? 1 : 0;
}
