/**
 * Benchmark runner: every bench/*.bench.ts exports `bench`; prints a table (or, with --json, one
 * JSON array of rows). --quick uses small sizes; --only NAME filters files.
 * Run with `npm run bench` (node --expose-gc so heap-per-mapping is measured after a full GC).
 *
 * Each file runs in its own Node process (this script re-run with --in-process): a workload that
 * leaves a multi-GB heap behind (10^6 live mappings) would otherwise slow the GC of the next one.
 */

import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { machine, type Bench, type Row } from "./lib.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const json = args.includes("--json");
const quick = args.includes("--quick");
const inProcess = args.includes("--in-process");
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
const log = (line: string): void => {
  if (!json) console.log(line);
  else console.error(line);
};

// Compiled (npm run bench: build-bench/bench/*.js, what users of the library run) or as TypeScript.
const suffix = import.meta.url.endsWith(".js") ? ".bench.js" : ".bench.ts";
const files = readdirSync(here)
  .filter((f) => f.endsWith(suffix))
  .filter((f) => !only || f.includes(only))
  .sort();
const rows: Row[] = [];
if (!inProcess) log(`# ${machine()}`);
for (const f of files) {
  if (inProcess) {
    const mod = (await import(pathToFileURL(path.join(here, f)).href)) as { bench?: Bench };
    if (typeof mod.bench !== "function") continue;
    rows.push(...(await mod.bench({ quick, log })));
    continue;
  }
  const out = execFileSync(
    process.execPath,
    [
      ...process.execArgv,
      "--max-old-space-size=8192",
      fileURLToPath(import.meta.url),
      "--in-process",
      "--json",
      "--only",
      f,
      ...(quick ? ["--quick"] : []),
    ],
    // The child logs its progress lines to stderr (it runs with --json): shown as they come.
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 26 },
  );
  rows.push(...(JSON.parse(out) as Row[]));
}
if (json) console.log(JSON.stringify(rows));
else console.table(rows);
