/** What every command shares: the host options, parsing of device and group lists, usage errors. */

import type { Command } from "commander";
import { resolveHost, type ResolvedHost } from "../host/resolve.js";
import type { Io } from "./output.js";

/** Bad command-line input: printed without a stack, exit code 2. */
export class CliError extends Error {
  override readonly name = "CliError";
}

export interface HostOptions {
  root?: string;
  host?: string;
  preset?: string;
  json?: boolean;
}

/** --root, --host, --preset, --json on a command. */
export function withHostOptions(cmd: Command): Command {
  return cmd
    .option("--root <dir>", "read sysfs under DIR instead of /")
    .option("--host <file>", "use a host snapshot (see `ioas snapshot`)")
    .option("--preset <name>", "use a built-in host (see `ioas presets`)")
    .option("--json", "print JSON instead of tables");
}

export function hostFrom(opts: HostOptions): ResolvedHost {
  return resolveHost({ root: opts.root, hostFile: opts.host, preset: opts.preset });
}

/** Notices go to stderr in JSON mode (stdout stays one JSON document) and inline otherwise. */
export function printNotices(io: Io, resolved: ResolvedHost, json: boolean): void {
  for (const n of resolved.notices) (json ? io.err : io.out)(`note: ${n}\n`);
}

export function describeSource(r: ResolvedHost): string {
  switch (r.source.kind) {
    case "sysfs":
      return `sysfs under ${r.source.root}`;
    case "snapshot":
      return `snapshot ${r.source.file}`;
    case "preset":
      return `preset ${r.source.name}${r.source.fallback ? " (default)" : ""}`;
  }
}

const FULL_BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
const SHORT_BDF = /^[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** "0000:00:04.0" or "00:04.0" (domain 0000), comma-separated. */
export function parseBdfList(text: string): string[] {
  return splitList(text, "--devices").map((raw) => {
    const s = raw.toLowerCase();
    if (FULL_BDF.test(s)) return s;
    if (SHORT_BDF.test(s)) return `0000:${s}`;
    throw new CliError(`bad BDF "${raw}": expected DDDD:BB:DD.F or BB:DD.F (e.g. 0000:00:04.0)`);
  });
}

export function parseGroupList(text: string): number[] {
  return splitList(text, "--groups").map((raw) => {
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
      throw new CliError(`bad group "${raw}": expected a group number like 1`);
    }
    return Number(raw);
  });
}

function splitList(text: string, option: string): string[] {
  const items = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (items.length === 0) throw new CliError(`${option} needs at least one value`);
  return items;
}
