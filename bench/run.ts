/**
 * Benchmark runner: imports every bench/*.bench.ts, runs its exported `bench`, prints a table (or,
 * with --json, one JSON array of rows). --quick uses small sizes; --only NAME filters files.
 * Run with `npm run bench` (node --expose-gc so heap-per-mapping is measured after a full GC).
 */

import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { machine, type Bench, type Row } from "./lib.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const json = args.includes("--json");
const quick = args.includes("--quick");
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
const log = (line: string): void => {
  if (!json) console.log(line);
  else console.error(line);
};

const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => !only || f.includes(only))
  .sort();
const rows: Row[] = [];
log(`# ${machine()}`);
for (const f of files) {
  const mod = (await import(pathToFileURL(path.join(here, f)).href)) as { bench?: Bench };
  if (typeof mod.bench !== "function") continue;
  rows.push(...(await mod.bench({ quick, log })));
}
if (json) console.log(JSON.stringify(rows));
else console.table(rows);
