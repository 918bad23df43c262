/** `ioas presets`: the built-in hosts. */

import type { Command } from "commander";
import { DEFAULT_PRESET, PRESETS } from "../../core/topology/presets.js";
import { buildPreset } from "../../host/resolve.js";
import { hostToJson } from "../../host/snapshot.js";
import { CliError, withHostOptions, type HostOptions } from "../common.js";
import { table, toJson, type Io } from "../output.js";
import { inspectText } from "./inspect.js";

export function registerPresets(program: Command, io: Io): void {
  withHostOptions(
    program.command("presets").description("list the built-in hosts (with --preset NAME: show one in full)"),
  ).action((opts: HostOptions) => {
    if (opts.root !== undefined || opts.host !== undefined) {
      throw new CliError("presets lists built-in hosts; --root and --host do not apply (use `ioas inspect`)");
    }
    if (opts.preset !== undefined) {
      const host = buildPreset(opts.preset);
      const entry = {
        name: opts.preset,
        description: PRESETS[opts.preset]!.description,
        default: opts.preset === DEFAULT_PRESET,
      };
      io.out(opts.json ? toJson({ ...entry, host: hostToJson(host) }) : inspectText(host));
      return;
    }
    const list = Object.entries(PRESETS).map(([name, p]) => ({
      name,
      description: p.description,
      default: name === DEFAULT_PRESET,
    }));
    if (opts.json) io.out(toJson(list));
    else
      io.out(
        table(
          ["NAME", "DESCRIPTION"],
          list.map((p) => [p.name + (p.default ? " (default)" : ""), p.description]),
        ),
      );
  });
}
