/** `ioas replay TRACE.jsonl`: replay a recorded kernel trace and compare every record. */

import type { Command } from "commander";
import { replayTrace } from "../../replay/executor.js";
import { applyGaps, gapKey, loadKnownGaps } from "../../replay/gaps.js";
import { loadTrace } from "../../replay/loader.js";
import { jsonReport, textReport } from "../../replay/report.js";
import { toJson, type Io } from "../output.js";

/** Some records did not match the trace: the report was printed, the exit code is non-zero. */
export class ReplayMismatchError extends Error {
  override readonly name = "ReplayMismatchError";
  readonly exitCode = 1;
}

interface ReplayOptions {
  json?: boolean;
  knownGaps?: string;
}

export function registerReplay(program: Command, io: Io): void {
  program
    .command("replay")
    .description(
      "replay a vectors trace (<run>.jsonl with its -run.json and -sysfs.txt) and compare every record",
    )
    .argument("<trace>", "the .jsonl trace")
    .option("--json", "print the report as JSON")
    .option(
      "--known-gaps <file>",
      "known-gaps manifest: listed failures are expected, listed passes are errors",
    )
    .action((trace: string, opts: ReplayOptions) => {
      const t = loadTrace(trace);
      const gaps = opts.knownGaps !== undefined ? loadKnownGaps(opts.knownGaps) : null;
      const summary = applyGaps(replayTrace(t), gaps, gapKey(trace));
      io.out(opts.json ? toJson(jsonReport(summary)) : textReport(summary, gaps !== null));
      if (summary.failed > 0)
        throw new ReplayMismatchError(`${summary.failed} record(s) did not match ${trace}`);
    });
}
