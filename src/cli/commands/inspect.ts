/** `ioas inspect`: groups, devices, drivers, viability, IOMMU units, reserved regions, usable ranges. */

import type { Command } from "commander";
import { formatSize } from "../../core/u64.js";
import { DEFAULT_PRESET, PRESETS } from "../../core/topology/presets.js";
import type { Host } from "../../core/topology/types.js";
import { usableRanges } from "../../core/topology/usable.js";
import { groupBlockers, isVfioDriver } from "../../core/topology/validate.js";
import type { ResolvedHost } from "../../host/resolve.js";
import { buildPreset } from "../../host/resolve.js";
import { hostToJson } from "../../host/snapshot.js";
import { describeSource, hostFrom, printNotices, withHostOptions, type HostOptions } from "../common.js";
import {
  pgsizesText,
  rangeJson,
  rangeRow,
  rangeText,
  regionJson,
  regionType,
  table,
  toJson,
  yesNo,
  type Io,
} from "../output.js";

const hexId = (v: number, w: number) => v.toString(16).padStart(w, "0");

interface GroupReport {
  id: number;
  type: string;
  iommus: string[];
  devices: string[];
  viable: boolean;
  blockers: { bdf: string; driver: string }[];
  vfio: boolean;
}

function groupReports(host: Host): GroupReport[] {
  return host.groups.map((g) => {
    const members = host.devices.filter((d) => d.group === g.id);
    const blockers = groupBlockers(host, g.id);
    return {
      id: g.id,
      type: g.type,
      iommus: [...new Set(members.flatMap((d) => (d.iommu ? [d.iommu] : [])))],
      devices: [...g.devices],
      viable: blockers.length === 0,
      blockers,
      vfio: members.some((d) => d.driver !== null && isVfioDriver(d.driver)),
    };
  });
}

export function inspectJson(r: ResolvedHost): unknown {
  const host = r.host;
  const all = host.groups.length > 0 ? usableRanges(host, { groups: host.groups.map((g) => g.id) }) : null;
  return {
    source: r.source,
    notices: r.notices,
    host: hostToJson(host),
    groups: groupReports(host).map((g) => ({
      ...g,
      reservedRegions: host.groups.find((x) => x.id === g.id)!.reservedRegions.map(regionJson),
      usable: usableRanges(host, { groups: [g.id] }).ranges.map(rangeJson),
    })),
    allGroups: all && { groups: all.groups, ranges: all.ranges.map(rangeJson) },
    ...(host.groups.length === 0 ? { defaultPreset: DEFAULT_PRESET } : {}),
  };
}

function paramsText(host: Host): string {
  const p = host.params;
  const yn = (b: boolean) => (b ? "Y" : "N");
  return [
    `kernel ${p.kernelRelease}, page ${formatSize(p.pageSize)}, THP ${formatSize(p.thpSize)}`,
    `type1: dma_entry_limit ${p.type1.dmaEntryLimit}, allow_unsafe_interrupts ${yn(p.type1.allowUnsafeInterrupts)}, disable_hugepages ${yn(p.type1.disableHugepages)}`,
    `iommufd: ${p.iommufd ? `yes, allow_unsafe_interrupts ${yn(p.iommufd.allowUnsafeInterrupts)}` : "no"}; VFIO device cdev: ${yesNo(p.vfioDeviceCdev)}; no-IOMMU mode: ${yesNo(p.noiommu)}`,
  ].join("\n");
}

export function inspectText(host: Host): string {
  const parts: string[] = [];
  parts.push(`Host: ${host.name}${host.description ? ` — ${host.description}` : ""}\n${paramsText(host)}\n`);
  if (host.iommus.length > 0) {
    parts.push(
      "IOMMU units\n" +
        table(
          ["NAME", "KIND", "WIDTH", "APERTURE", "PAGE SIZES", "MSI ISOLATION", "COHERENT", "DIRTY"],
          host.iommus.map((u) => [
            u.name,
            u.kind,
            `${u.addressWidth}-bit`,
            rangeText(u.aperture),
            pgsizesText(u.pgsizeBitmap),
            u.kind === "intel-vtd" || u.kind === "amd-vi"
              ? `${yesNo(u.msiIsolation)} (IR)`
              : yesNo(u.msiIsolation),
            yesNo(u.enforceCacheCoherency),
            yesNo(u.dirtyTracking),
          ]),
        ),
    );
  }
  if (host.groups.length === 0) {
    parts.push(
      "No IOMMU groups: devices cannot be isolated for VFIO (only its unsafe no-IOMMU mode could drive them).\n" +
        table(
          ["DEVICE", "ID", "CLASS", "DRIVER"],
          host.devices.map((d) => [
            d.bdf,
            `${hexId(d.vendor, 4)}:${hexId(d.device, 4)}`,
            hexId(d.class, 6),
            d.driver ?? "-",
          ]),
        ),
    );
    return parts.join("\n");
  }
  const reports = groupReports(host);
  const rows: string[][] = [];
  for (const g of reports) {
    for (const [i, bdf] of g.devices.entries()) {
      const d = host.devices.find((x) => x.bdf === bdf)!;
      rows.push([
        i === 0 ? String(g.id) : "",
        i === 0 ? g.type : "",
        i === 0 ? g.iommus.join(",") || "-" : "",
        i === 0 ? (g.viable ? (g.vfio ? "yes, vfio" : "yes") : "no") : "",
        bdf,
        `${hexId(d.vendor, 4)}:${hexId(d.device, 4)}`,
        hexId(d.class, 6),
        d.driver ?? "-",
        d.cdev ?? "",
      ]);
    }
  }
  parts.push(
    "IOMMU groups (viable: every device unbound, on a VFIO driver, or on pci-stub/pcieport)\n" +
      table(["GROUP", "TYPE", "IOMMU", "VIABLE", "DEVICE", "ID", "CLASS", "DRIVER", "CDEV"], rows),
  );
  const regionRows = host.groups.flatMap((g) =>
    g.reservedRegions.map((r) => [String(g.id), ...rangeRow(r), regionType(r), r.source ?? ""]),
  );
  const ambiguous = host.groups.some((g) => g.reservedRegions.some((r) => r.msiAmbiguous));
  parts.push(
    "Reserved regions by group" +
      (ambiguous ? " (`?`: sysfs prints hardware and software MSI windows alike as `msi`)" : "") +
      "\n" +
      (regionRows.length
        ? table(["GROUP", "START", "LAST", "SIZE", "TYPE", "SOURCE"], regionRows)
        : "none\n"),
  );
  const usableRows: string[][] = [];
  for (const g of host.groups) {
    for (const [i, r] of usableRanges(host, { groups: [g.id] }).ranges.entries()) {
      usableRows.push([i === 0 ? String(g.id) : "", ...rangeRow(r)]);
    }
  }
  const all = usableRanges(host, { groups: host.groups.map((g) => g.id) });
  for (const [i, r] of all.ranges.entries()) usableRows.push([i === 0 ? "all" : "", ...rangeRow(r)]);
  parts.push(
    "Usable IOVA ranges as VFIO type1 computes them (aperture minus non-relaxable reserved regions; `ioas ranges` explains gaps)\n" +
      table(["GROUP", "START", "LAST", "SIZE"], usableRows),
  );
  return parts.join("\n");
}

export function registerInspect(program: Command, io: Io): void {
  withHostOptions(
    program
      .command("inspect")
      .description("show IOMMU groups, devices, reserved regions and usable IOVA ranges"),
  ).action((opts: HostOptions) => {
    const r = hostFrom(opts);
    if (opts.json) {
      printNotices(io, r, true);
      io.out(toJson(inspectJson(r)));
      return;
    }
    printNotices(io, r, false);
    io.out(`Source: ${describeSource(r)}\n`);
    io.out(inspectText(r.host));
    if (r.host.groups.length === 0) {
      io.out(`\nThe default preset, "${DEFAULT_PRESET}" (${PRESETS[DEFAULT_PRESET]!.description}):\n\n`);
      io.out(inspectText(buildPreset(DEFAULT_PRESET)));
    }
  });
}
