/**
 * CLI entry: a commander program whose commands come from `COMMANDS`.
 *
 * To add a command (e.g. `replay`, `compat-diff`): create src/cli/commands/<name>.ts exporting
 * `register<Name>(program: Command, io: Io): void` that defines the command (use `withHostOptions`
 * from ../common.js for --root/--host/--preset/--json), throw `CliError` for bad input, and add ONE
 * line to `COMMANDS` below. Errors thrown from actions are printed here without stack traces.
 */

import { Command, CommanderError } from "commander";
import { InvalidHostError } from "../core/topology/validate.js";
import { UsableRangesError } from "../core/topology/usable.js";
import { HostReadError } from "../host/errors.js";
import { HostChoiceError } from "../host/resolve.js";
import { CliError } from "./common.js";
import { processIo, type Io } from "./output.js";
import { registerInspect } from "./commands/inspect.js";
import { registerPresets } from "./commands/presets.js";
import { registerRanges } from "./commands/ranges.js";
import { registerSnapshot } from "./commands/snapshot.js";
import { registerReplay, ReplayMismatchError } from "./commands/replay.js";
import { registerView } from "./commands/view.js";
import { registerCompatDiff } from "./commands/compat-diff.js";
import { registerPlan } from "./commands/plan.js";
import { TraceFormatError } from "../replay/loader.js";

export type RegisterCommand = (program: Command, io: Io) => void;

export const COMMANDS: readonly RegisterCommand[] = [
  registerInspect,
  registerRanges,
  registerPresets,
  registerSnapshot,
  registerReplay,
  registerView,
  registerCompatDiff,
  registerPlan,
];

export const EXIT_OK = 0;
/** The host could not be read, is inconsistent, or the question has no answer on it. */
export const EXIT_FAILURE = 1;
/** Bad command line: unknown option, preset, malformed BDF. */
export const EXIT_USAGE = 2;

function program(io: Io): Command {
  const p = new Command("ioas")
    .description("Inspect IOMMU groups and usable IOVA space; model VFIO type1 and iommufd")
    .version("0.1.0")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  p.showHelpAfterError("(run `ioas --help` for usage)");
  for (const register of COMMANDS) register(p, io);
  return p;
}

function exitCodeOf(e: unknown, io: Io): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  if (e instanceof CliError || e instanceof HostChoiceError) {
    io.err(`ioas: ${e.message}\n`);
    return EXIT_USAGE;
  }
  if (e instanceof ReplayMismatchError) return EXIT_FAILURE; // the report was already printed
  if (
    e instanceof HostReadError ||
    e instanceof InvalidHostError ||
    e instanceof UsableRangesError ||
    e instanceof TraceFormatError
  ) {
    io.err(`ioas: ${e.message}\n`);
    return EXIT_FAILURE;
  }
  io.err(`ioas: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
  return EXIT_FAILURE;
}

/** Runs `ioas <argv>` and returns the exit code; never throws, never exits the process. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  try {
    await program(io).parseAsync([...argv], { from: "user" });
    return EXIT_OK;
  } catch (e) {
    return exitCodeOf(e, io);
  }
}
