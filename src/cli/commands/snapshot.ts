/** `ioas snapshot`: save the resolved host as versioned JSON (to stdout or a file) for `--host`. */

import type { Command } from "commander";
import { SNAPSHOT_FORMAT, SNAPSHOT_VERSION, saveSnapshot, snapshotToText } from "../../host/snapshot.js";
import { hostFrom, printNotices, withHostOptions, type HostOptions } from "../common.js";
import { toJson, type Io } from "../output.js";

interface SnapshotOptions extends HostOptions {
  output?: string;
}

export function registerSnapshot(program: Command, io: Io): void {
  withHostOptions(
    program
      .command("snapshot")
      .description("write the host as an ioas-host JSON snapshot (load it back with --host FILE)")
      .option("-o, --output <file>", "write to FILE instead of stdout"),
  ).action((opts: SnapshotOptions) => {
    const r = hostFrom(opts);
    // Notices never go to stdout here: stdout may be the snapshot itself.
    printNotices(io, r, true);
    if (opts.output === undefined) {
      io.out(snapshotToText(r.host));
      return;
    }
    saveSnapshot(opts.output, r.host);
    const summary = {
      file: opts.output,
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      host: r.host.name,
    };
    io.out(opts.json ? toJson(summary) : `wrote ${r.host.name} to ${opts.output}\n`);
  });
}
