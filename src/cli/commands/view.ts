/**
 * `ioas view`: the IOVA-space viewer as one self-contained HTML file (or its JSON view model) — for a
 * host topology (`--preset/--host/--root`, `--groups/--devices`) or, step by step, for a kernel trace
 * (`--trace FILE.jsonl`): every record that changed mappings or attachments is a step.
 */

import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { loadTrace } from "../../replay/loader.js";
import { buildView, renderStandaloneHtml } from "../../view/index.js";
import { traceTimeline } from "../../view/trace-timeline.js";
import type { AnyViewModel } from "../../view/types.js";
import {
  CliError,
  hostFrom,
  parseBdfList,
  parseGroupList,
  printNotices,
  withHostOptions,
  type HostOptions,
} from "../common.js";
import { toJson, type Io } from "../output.js";

interface ViewOptions extends HostOptions {
  trace?: string;
  groups?: string;
  devices?: string;
  output?: string;
  maxSteps?: string;
}

export function registerView(program: Command, io: Io): void {
  withHostOptions(
    program
      .command("view")
      .description(
        "draw the 64-bit IOVA space as a self-contained HTML page (or, with --json, its view model)",
      )
      .option("--trace <file>", "a vectors trace (.jsonl): one step per record that changed mappings")
      .option("--groups <list>", "IOMMU groups to show, e.g. 1,2")
      .option("--devices <list>", "devices to show, e.g. 00:04.0")
      .option("--max-steps <n>", "with --trace: keep at most N steps (default 400)")
      .option("-o, --output <file>", "write to FILE instead of standard output"),
  ).action((opts: ViewOptions) => {
    let model: AnyViewModel;
    if (opts.trace !== undefined) {
      const max = opts.maxSteps === undefined ? undefined : Number(opts.maxSteps);
      if (max !== undefined && !(Number.isInteger(max) && max >= 2))
        throw new CliError(`--max-steps must be a whole number ≥ 2, got ${JSON.stringify(opts.maxSteps)}`);
      model = traceTimeline(loadTrace(opts.trace), max === undefined ? {} : { maxSteps: max });
    } else {
      const resolved = hostFrom(opts);
      printNotices(io, resolved, true); // stdout carries the page or the model
      const chosen = opts.groups !== undefined || opts.devices !== undefined;
      const selection = {
        ...(opts.groups !== undefined ? { groups: parseGroupList(opts.groups) } : {}),
        ...(opts.devices !== undefined ? { devices: parseBdfList(opts.devices) } : {}),
      };
      // Without a choice the viewer shows the VFIO-bound groups (or every group).
      model = buildView(chosen ? { host: resolved.host, selection } : { host: resolved.host });
    }
    const text = opts.json ? toJson(model) : renderStandaloneHtml(model);
    if (opts.output === undefined) io.out(text);
    else {
      try {
        writeFileSync(opts.output, text);
      } catch (e) {
        throw new CliError(`cannot write ${opts.output}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
    }
  });
}
