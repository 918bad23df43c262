/**
 * `npm run fuzz -- --cases N [--seed S]`: the uAPI fuzzer (test/fuzz/fuzz.ts). Prints cases per
 * second, the errno histogram and the failures (each reproducible from seed and case number); ends
 * with `N passed, N failed`, exit 1 on any failure.
 */

import { fuzz } from "../test/fuzz/fuzz.js";

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
const cases = opt("--cases", 10000);
const seed = opt("--seed", 1);
const r = fuzz({ cases, seed });
console.log(
  `seed ${seed}: ${r.cases} cases in ${r.seconds.toFixed(1)} s (${Math.round(r.cases / r.seconds)} cases/s)`,
);
const hist = Object.entries(r.histogram).sort((a, b) => b[1] - a[1]);
console.log("errno histogram:");
for (const [k, n] of hist) console.log(`  ${k.padEnd(12)} ${n}`);
for (const f of r.failures.slice(0, 30))
  console.log(`FAIL case ${f.case} (${f.fd} fd, ${f.request}, arg ${f.arg}): ${f.problem}`);
if (r.failures.length > 30) console.log(`… ${r.failures.length - 30} more`);
console.log(`${r.passed} passed, ${r.failed} failed`);
process.exitCode = r.failed > 0 ? 1 : 0;
