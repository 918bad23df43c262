/** `ioas compat-diff [SCENARIO]`: one scenario on type1 and on iommufd's VFIO compat, step by step. */

import { readFileSync } from "node:fs";
import type { Command } from "commander";
import {
  compatDiff,
  DEFAULT_SCENARIO,
  parseScenario,
  type CompatDiffReport,
} from "../../core/vfio/compat-diff.js";
import { CliError, hostFrom, withHostOptions, type HostOptions } from "../common.js";
import { table, toJson, type Io } from "../output.js";

function text(r: CompatDiffReport): string {
  const cell = (o: { result: string; errno: string | null }): string => o.errno ?? o.result;
  const rows = r.steps.map((s) => [
    String(s.index),
    s.same ? " " : "*",
    s.step,
    cell(s.type1),
    cell(s.compat),
  ]);
  return (
    `scenario ${r.name} on ${r.host}\nsetup: type1 ${cell(r.setup.type1)}, compat ${cell(r.setup.compat)}\n` +
    table(["#", "≠", "STEP", "TYPE1", "COMPAT"], rows) +
    `${r.differences} step(s) differ\n`
  );
}

export function registerCompatDiff(program: Command, io: Io): void {
  withHostOptions(
    program
      .command("compat-diff")
      .argument("[scenario]", "JSON scenario file (default: a built-in tour of the divergences)")
      .description("run one scenario against VFIO type1 and iommufd's VFIO compat and list the differences"),
  ).action((file: string | undefined, opts: HostOptions) => {
    let scenario = DEFAULT_SCENARIO;
    if (file !== undefined) {
      try {
        scenario = parseScenario(JSON.parse(readFileSync(file, "utf8")));
      } catch (e) {
        throw new CliError(`${file}: ${(e as Error).message}`);
      }
    }
    const report = compatDiff(hostFrom(opts).host, scenario);
    io.out(opts.json ? toJson(report) : text(report));
  });
}
