/**
 * Which host a command works on: `--host FILE` (snapshot), `--preset NAME`, `--root DIR` (sysfs),
 * or by default this machine's sysfs at "/". A machine with no IOMMU groups (no IOMMU, not Linux)
 * gets the default preset instead, with a notice naming it.
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_PRESET, PRESETS } from "../core/topology/presets.js";
import type { Host } from "../core/topology/types.js";
import { validateHost } from "../core/topology/validate.js";
import { loadSnapshot } from "./snapshot.js";
import { readSysfsHost } from "./sysfs-reader.js";

export interface HostChoice {
  readonly root?: string | undefined;
  readonly hostFile?: string | undefined;
  readonly preset?: string | undefined;
}

export interface ResolvedHost {
  readonly host: Host;
  readonly source:
    | { readonly kind: "sysfs"; readonly root: string }
    | { readonly kind: "snapshot"; readonly file: string }
    | { readonly kind: "preset"; readonly name: string; readonly fallback: boolean };
  /** Things the user should be told (fallback to a preset, assumptions). */
  readonly notices: readonly string[];
  /** When the default preset replaced this machine: what was read there. */
  readonly machine?: Host;
}

export class HostChoiceError extends Error {
  override readonly name = "HostChoiceError";
}

export function buildPreset(name: string): Host {
  const p = PRESETS[name];
  if (!p) throw new HostChoiceError(`unknown preset "${name}" (known: ${Object.keys(PRESETS).join(", ")})`);
  return validateHost(p.build());
}

export function resolveHost(choice: HostChoice = {}): ResolvedHost {
  const given = [choice.root && "--root", choice.hostFile && "--host", choice.preset && "--preset"].filter(
    Boolean,
  );
  if (given.length > 1) throw new HostChoiceError(`choose one of ${given.join(", ")}`);
  if (choice.preset) {
    return {
      host: buildPreset(choice.preset),
      source: { kind: "preset", name: choice.preset, fallback: false },
      notices: [],
    };
  }
  if (choice.hostFile) {
    return {
      host: loadSnapshot(choice.hostFile),
      source: { kind: "snapshot", file: choice.hostFile },
      notices: [],
    };
  }
  if (choice.root) {
    return {
      host: validateHost(readSysfsHost(choice.root)),
      source: { kind: "sysfs", root: choice.root },
      notices: [],
    };
  }
  // This machine: without sysfs (not Linux) or without IOMMU groups, show the default preset.
  const machine = existsSync(join("/", "sys")) ? validateHost(readSysfsHost("/")) : null;
  if (machine && machine.groups.length > 0) {
    return { host: machine, source: { kind: "sysfs", root: "/" }, notices: [] };
  }
  const why = machine
    ? "this host has no IOMMU groups (no IOMMU, or it is disabled)"
    : "this system has no sysfs";
  return {
    host: buildPreset(DEFAULT_PRESET),
    source: { kind: "preset", name: DEFAULT_PRESET, fallback: true },
    notices: [`${why}; showing the built-in preset "${DEFAULT_PRESET}" instead (see \`ioas presets\`)`],
    ...(machine ? { machine } : {}),
  };
}
