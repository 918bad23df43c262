/** `ioas ranges`: the usable IOVA ranges type1 would report for some devices or groups, every gap explained. */

import type { Command } from "commander";
import { formatSize } from "../../core/u64.js";
import { rangeLength } from "../../core/ranges.js";
import { usableRanges, type GapReason, type UsableResult } from "../../core/topology/usable.js";
import {
  CliError,
  describeSource,
  hostFrom,
  parseBdfList,
  parseGroupList,
  printNotices,
  withHostOptions,
  type HostOptions,
} from "../common.js";
import { rangeJson, rangeRow, rangeText, regionJson, regionType, table, toJson, type Io } from "../output.js";

interface RangesOptions extends HostOptions {
  devices?: string;
  groups?: string;
}

function reasonText(r: GapReason): string {
  if (r.kind === "aperture") return `outside ${r.iommu}'s aperture ${rangeText(r.aperture)}`;
  const reg = r.region;
  const ambiguous = reg.msiAmbiguous ? " (sysfs `msi`: hardware or software MSI window)" : "";
  return `group ${r.group} (${r.devices.join(", ")}): ${reg.type} ${rangeText(reg)}${ambiguous}${reg.source ? `, from ${reg.source}` : ""}`;
}

function reasonJson(r: GapReason): unknown {
  return r.kind === "aperture"
    ? { kind: "aperture", iommu: r.iommu, aperture: rangeJson(r.aperture) }
    : { kind: "reserved", group: r.group, devices: r.devices, region: regionJson(r.region) };
}

export function rangesJson(u: UsableResult): unknown {
  return {
    groups: u.groups,
    iommus: u.iommus,
    aperture: u.aperture && rangeJson(u.aperture),
    ranges: u.ranges.map(rangeJson),
    gaps: u.gaps.map((g) => ({ ...rangeJson(g), reasons: g.reasons.map(reasonJson) })),
    ignored: u.ignored.map((i) => ({ group: i.group, region: regionJson(i.region) })),
    notes: u.notes,
  };
}

export function rangesText(u: UsableResult): string {
  const out: string[] = [];
  out.push(`Groups ${u.groups.join(", ")} behind ${u.iommus.join(", ") || "no known IOMMU"}`);
  if (u.ranges.length === 0) {
    out.push("No usable IOVA space: type1 would refuse this attach with EINVAL.");
  } else {
    out.push(
      `Usable IOVA ranges (VFIO type1 IOVA_RANGE):\n${table(["START", "LAST", "SIZE"], u.ranges.map(rangeRow))}`,
    );
  }
  out.push("Gaps and why:");
  for (const g of u.gaps) {
    out.push(`  ${rangeText(g)} ${formatSize(rangeLength(g))}`);
    for (const r of g.reasons) out.push(`    - ${reasonText(r)}`);
  }
  for (const i of u.ignored) {
    out.push(
      `Ignored by type1: group ${i.group} ${regionType(i.region)} ${rangeText(i.region)} (relaxable identity map)`,
    );
  }
  for (const n of u.notes) out.push(`Note: ${n}`);
  return out.join("\n") + "\n";
}

export function registerRanges(program: Command, io: Io): void {
  withHostOptions(
    program
      .command("ranges")
      .description(
        "usable IOVA ranges for devices or groups as VFIO type1 computes them, every gap explained",
      )
      .option("--devices <bdfs>", "devices, comma-separated (0000:00:04.0 or 00:04.0)")
      .option("--groups <ids>", "IOMMU groups, comma-separated"),
  ).action((opts: RangesOptions) => {
    if (opts.devices === undefined && opts.groups === undefined) {
      throw new CliError("give --devices BDF[,BDF] or --groups N[,N]");
    }
    const devices = opts.devices === undefined ? [] : parseBdfList(opts.devices);
    const groups = opts.groups === undefined ? [] : parseGroupList(opts.groups);
    const r = hostFrom(opts);
    const u = usableRanges(r.host, { devices, groups });
    printNotices(io, r, Boolean(opts.json));
    if (opts.json) io.out(toJson({ source: r.source, notices: r.notices, ...(rangesJson(u) as object) }));
    else io.out(`Source: ${describeSource(r)}\n${rangesText(u)}`);
  });
}
