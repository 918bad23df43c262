/**
 * `ioas replay TRACE.jsonl`: replay a recorded kernel trace and compare every record.
 *
 * With `--save-state FILE [--at SEQ]` the whole simulated system (and the replayer's fd names) is
 * saved after record SEQ, or after the last record; with `--load-state FILE [--from SEQ]` the replay
 * starts from a saved state and continues with the records from SEQ (default: the one after the
 * saved point), reporting only those.
 */

import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { Replayer, summarise, type RecordResult, type ReplayerState } from "../../replay/executor.js";
import { applyGaps, gapKey, loadKnownGaps } from "../../replay/gaps.js";
import { hostFromRun } from "../../replay/host-from-run.js";
import { loadTrace, type Trace } from "../../replay/loader.js";
import { jsonReport, textReport } from "../../replay/report.js";
import { restoreState, StateError, stateToText } from "../../state/index.js";
import { createSystem, type Kernel } from "../../uapi/system.js";
import { CliError } from "../common.js";
import { toJson, type Io } from "../output.js";

/** Some records did not match the trace: the report was printed, the exit code is non-zero. */
export class ReplayMismatchError extends Error {
  override readonly name = "ReplayMismatchError";
  readonly exitCode = 1;
}

interface ReplayOptions {
  json?: boolean;
  knownGaps?: string;
  saveState?: string;
  at?: string;
  loadState?: string;
  from?: string;
}

/** What a replay saves next to the system: where it stopped and the replayer's own state. */
interface ReplayExtra {
  readonly trace: string;
  readonly seq: number | null;
  readonly replayer: ReplayerState;
}

function seqOption(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new CliError(`${name} must be a record number, got ${JSON.stringify(v)}`);
  return Number(v);
}

function isExtra(v: unknown): v is ReplayExtra {
  if (typeof v !== "object" || v === null) return false;
  const e = v as Record<string, unknown>;
  return typeof e["trace"] === "string" && typeof e["replayer"] === "object" && e["replayer"] !== null;
}

function restore(file: string, t: Trace): { kernel: Kernel; replayer: Replayer; seq: number | null } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new CliError(`cannot read state ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    const { kernel, extra } = restoreState(text);
    if (!isExtra(extra)) throw new StateError("it was not saved by `ioas replay --save-state`");
    if (extra.trace !== t.name)
      throw new StateError(`it was saved while replaying ${extra.trace}, not ${t.name}`);
    return { kernel, replayer: Replayer.fromState(kernel, extra.replayer), seq: extra.seq };
  } catch (e) {
    if (e instanceof StateError) throw new CliError(`state ${file}: ${e.message}`);
    throw e;
  }
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
    .option("--save-state <file>", "save the whole simulated system (ioas-state JSON) to FILE")
    .option("--at <seq>", "with --save-state: save right after record SEQ (default: after the last record)")
    .option("--load-state <file>", "start from a state saved by --save-state instead of a fresh system")
    .option("--from <seq>", "with --load-state: continue with record SEQ (default: the one after the save)")
    .action((trace: string, opts: ReplayOptions) => {
      const at = seqOption(opts.at, "--at");
      const from = seqOption(opts.from, "--from");
      if (at !== undefined && opts.saveState === undefined) throw new CliError("--at needs --save-state");
      if (from !== undefined && opts.loadState === undefined) throw new CliError("--from needs --load-state");
      const t = loadTrace(trace);
      const seqs = new Set(t.records.map((r) => r.seq));
      for (const [n, v] of [
        ["--at", at],
        ["--from", from],
      ] as const)
        if (v !== undefined && !seqs.has(v))
          throw new CliError(`${n} ${v}: no record with that seq in ${trace}`);

      let replayer: Replayer;
      let start = 0;
      if (opts.loadState !== undefined) {
        const r = restore(opts.loadState, t);
        replayer = r.replayer;
        const first = from ?? (r.seq === null ? undefined : t.records.find((x) => x.seq > r.seq!)?.seq);
        start = first === undefined ? t.records.length : t.records.findIndex((x) => x.seq === first);
      } else {
        replayer = new Replayer(createSystem(hostFromRun(t.run, t.sysfs, t.sysfsFile)).kernel);
      }

      const results: RecordResult[] = [];
      const save = (seq: number | null): void => {
        const extra: ReplayExtra = { trace: t.name, seq, replayer: replayer.toState() };
        const text = stateToText(replayer.kernel, { extra });
        try {
          writeFileSync(opts.saveState!, text);
        } catch (e) {
          throw new CliError(
            `cannot write state ${opts.saveState}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
          );
        }
      };
      for (const rec of t.records.slice(start)) {
        const res = replayer.step(rec);
        if (res) results.push(res);
        if (opts.saveState !== undefined && rec.seq === at) save(rec.seq);
      }
      // "After the whole trace": before the last section's process exits, so it can be continued.
      if (opts.saveState !== undefined && at === undefined) save(t.records.at(-1)?.seq ?? null);
      replayer.finish();

      const gaps = opts.knownGaps !== undefined ? loadKnownGaps(opts.knownGaps) : null;
      const summary = applyGaps(summarise(t.file, t.name, results), gaps, gapKey(trace));
      io.out(opts.json ? toJson(jsonReport(summary)) : textReport(summary, gaps !== null));
      if (summary.failed > 0)
        throw new ReplayMismatchError(`${summary.failed} record(s) did not match ${trace}`);
    });
}
