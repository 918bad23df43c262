/**
 * `ioas plan`: the guest RAM layout a VMM would build, checked against the usable IOVA space of
 * the devices to assign (IOVA = GPA), with the fixups a VMM makes and an optional hotplug re-check.
 *
 * Exit codes: 0 mappable (and the hotplug, if any, accepted), 1 not (after printing why), 2 bad input.
 */

import type { Command } from "commander";
import { rangeLength, type IovaRange } from "../../core/ranges.js";
import { formatSize, hex } from "../../core/u64.js";
import { UsableRangesError, selectGroups } from "../../core/topology/usable.js";
import {
  PlanInputError,
  parseSize,
  planGuestMemory,
  type Conflict,
  type CpuVendor,
  type HotplugCheck,
  type HotplugConflict,
  type Plan,
  type RamRegion,
  type RegionCheck,
} from "../../core/plan/index.js";
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
import { rangeJson, rangeRow, rangeText, regionJson, table, toJson, type Io } from "../output.js";

/** The plan was printed and it does not map (or the hotplug is refused): exit code 1. */
export class PlanNotMappableError extends UsableRangesError {}

interface PlanCliOptions extends HostOptions {
  ram?: string;
  machine?: string;
  devices?: string;
  groups?: string;
  fixup?: string;
  hotplug?: string;
  cpuVendor?: string;
}

const sized = (r: IovaRange) => `${rangeText(r)} ${formatSize(rangeLength(r))}`;

function conflictText(c: Conflict): string {
  switch (c.kind) {
    case "reserved": {
      const reg = c.region;
      return `meets ${reg.type} ${rangeText(reg)} of group ${c.group} (${c.devices.join(", ")})${reg.source ? `, ${reg.source}` : ""}: ${sized(c.overlap)} of RAM inside it`;
    }
    case "aperture":
      return `outside ${c.iommu}'s aperture ${rangeText(c.aperture)}: ${sized(c.overlap)} of RAM`;
    case "alignment":
      return `start or size not a multiple of the ${formatSize(c.alignment)} IOMMU page`;
  }
}

function hotplugConflictText(c: HotplugConflict): string {
  const m = `mapping ${c.mapping.name} ${rangeText(c.mapping)}`;
  if (c.kind === "aperture")
    return `${m} lies outside ${c.iommu}'s aperture ${rangeText(c.range)}: ${c.overlap ? sized(c.overlap) : ""}`;
  return `${m} overlaps ${c.region?.type ?? "reserved"} ${rangeText(c.range)}${c.overlap ? `: ${sized(c.overlap)}` : ""}`;
}

function regionRows(checks: readonly RegionCheck[]): string[][] {
  return checks.map((c) => [
    c.name,
    ...rangeRow(c),
    c.mappable ? "ok" : (c.errno ?? "?"),
    c.within ? rangeText(c.within) : "-",
  ]);
}

function regionsText(checks: readonly RegionCheck[]): string {
  const out = [
    table(["NAME", "START", "LAST", "SIZE", "MAP_DMA", "INSIDE USABLE RANGE"], regionRows(checks)).trimEnd(),
  ];
  for (const c of checks) for (const x of c.conflicts) out.push(`  ${c.name}: ${conflictText(x)}`);
  return out.join("\n");
}

const span = (rs: readonly RamRegion[]) => rs.map((r) => rangeText(r)).join(" + ");

function hotplugText(h: HotplugCheck): string {
  const out = [
    `Hotplug ${h.device} (group ${h.group}, ${h.iommus.join(", ") || "no known IOMMU"}${h.aperture ? `, aperture ${rangeText(h.aperture)}` : ""}) with the RAM above mapped:`,
    `  type1:   ${h.type1.accepted ? "accepted" : `refused, ${h.type1.errno} at ${h.type1.where}`}`,
    `  iommufd: ${h.iommufd.accepted ? "accepted" : `refused, ${h.iommufd.errno} at ${h.iommufd.where}`}`,
  ];
  const seen = new Set<string>();
  for (const c of [...h.type1.conflicts, ...h.iommufd.conflicts]) {
    const t = hotplugConflictText(c);
    if (!seen.has(t)) out.push(`    - ${t}`);
    seen.add(t);
  }
  if (h.type1.accepted) out.push(`  usable after: ${h.usableAfter.map(rangeText).join(", ")}`);
  for (const n of h.notes) out.push(`  note: ${n}`);
  return out.join("\n");
}

export function planText(p: Plan): string {
  const out: string[] = [];
  out.push(
    `Machine: ${p.machineName}, ${formatSize(p.ram)} RAM, fixups: ${p.fixupMode}, vCPU: ${p.cpuVendor}`,
  );
  out.push(
    `Devices: group${p.groups.length > 1 ? "s" : ""} ${p.groups.join(", ")} behind ${p.iommus.join(", ") || "no known IOMMU"}` +
      `${p.aperture ? `, aperture ${rangeText(p.aperture)}` : ""}, IOMMU page ${formatSize(p.alignment)}`,
  );
  out.push(`Usable IOVA (type1): ${p.usable.map(rangeText).join(", ") || "none"}`);
  const changed = p.fixups.length > 0;
  if (changed && p.initial.some((c) => !c.mappable)) {
    out.push("", "Before fixups:", regionsText(p.initial));
  }
  if (changed) {
    out.push("", `Fixups (--fixup ${p.fixupMode}):`);
    for (const f of p.fixups) {
      out.push(
        `  ${f.kind}: ${span(f.before)} -> ${span(f.after)}`,
        `    why: ${f.reason}`,
        `    how: ${f.how}`,
      );
    }
  }
  out.push("", "Guest RAM at IOVA = GPA:", regionsText(p.regions));
  out.push(
    "",
    "Machine windows (not RAM, never mapped):",
    table(
      ["NAME", "START", "LAST", "SIZE"],
      p.windows.map((w) => [w.name, ...rangeRow(w)]),
    ).trimEnd(),
  );
  if (p.apertureTooSmall) {
    const a = p.apertureTooSmall;
    out.push(
      "",
      `Aperture too small: RAM reaches ${hex(a.ramLast)} (${a.bitsNeeded} address bits) but ${a.iommus.join(", ")} translates only up to ${hex(a.apertureLast)}; no placement fits it — use a wider IOMMU address width or less RAM.`,
    );
  }
  if (p.hotplug) out.push("", hotplugText(p.hotplug));
  for (const n of p.notes) out.push(`Note: ${n}`);
  const bad = p.regions.filter((c) => !c.mappable).map((c) => c.name);
  out.push(
    "",
    p.mappable
      ? "Result: mappable — every RAM region lies inside one usable IOVA range."
      : `Result: NOT mappable — VFIO_IOMMU_MAP_DMA (and IOMMU_IOAS_MAP) would fail with EINVAL for ${bad.join(", ") || "every region"}.`,
  );
  return out.join("\n") + "\n";
}

function conflictJson(c: Conflict): unknown {
  switch (c.kind) {
    case "reserved":
      return {
        kind: c.kind,
        group: c.group,
        devices: c.devices,
        region: regionJson(c.region),
        overlap: rangeJson(c.overlap),
      };
    case "aperture":
      return { kind: c.kind, iommu: c.iommu, aperture: rangeJson(c.aperture), overlap: rangeJson(c.overlap) };
    case "alignment":
      return { kind: c.kind, alignment: hex(c.alignment) };
  }
}

const namedJson = (r: RamRegion) => ({ name: r.name, ...rangeJson(r) });

function checkJson(c: RegionCheck): unknown {
  return {
    ...namedJson(c),
    mappable: c.mappable,
    within: c.within && rangeJson(c.within),
    errno: c.errno,
    conflicts: c.conflicts.map(conflictJson),
  };
}

function hotplugJson(h: HotplugCheck): unknown {
  const verdict = (v: HotplugCheck["type1"]) => ({
    accepted: v.accepted,
    errno: v.errno,
    where: v.where,
    conflicts: v.conflicts.map((c) => ({
      kind: c.kind,
      mapping: namedJson(c.mapping),
      range: rangeJson(c.range),
      ...(c.region ? { region: regionJson(c.region) } : {}),
      ...(c.iommu ? { iommu: c.iommu } : {}),
      overlap: c.overlap && rangeJson(c.overlap),
    })),
  });
  return {
    device: h.device,
    group: h.group,
    iommus: h.iommus,
    aperture: h.aperture && rangeJson(h.aperture),
    type1: verdict(h.type1),
    iommufd: verdict(h.iommufd),
    usableAfter: h.usableAfter.map(rangeJson),
    notes: h.notes,
  };
}

export function planJson(p: Plan): unknown {
  return {
    machine: { id: p.machine, name: p.machineName },
    ram: hex(p.ram),
    fixupMode: p.fixupMode,
    cpuVendor: p.cpuVendor,
    groups: p.groups,
    iommus: p.iommus,
    aperture: p.aperture && rangeJson(p.aperture),
    usable: p.usable.map(rangeJson),
    alignment: hex(p.alignment),
    initial: p.initial.map(checkJson),
    fixups: p.fixups.map((f) => ({ ...f, before: f.before.map(namedJson), after: f.after.map(namedJson) })),
    regions: p.regions.map(checkJson),
    windows: p.windows.map(namedJson),
    apertureTooSmall: p.apertureTooSmall,
    mappable: p.mappable,
    hotplug: p.hotplug && hotplugJson(p.hotplug),
    notes: p.notes,
  };
}

function cpuVendorOf(text: string | undefined): CpuVendor | undefined {
  if (text === undefined) return undefined;
  if (text === "intel" || text === "amd") return text;
  throw new CliError(`bad --cpu-vendor "${text}": expected intel or amd`);
}

/** Bad input from the planner or the selection is a usage error (exit 2), not a host failure. */
function asUsage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (
      e instanceof PlanInputError ||
      (e instanceof UsableRangesError && !(e instanceof PlanNotMappableError))
    ) {
      throw new CliError(e.message);
    }
    throw e;
  }
}

export function registerPlan(program: Command, io: Io): void {
  withHostOptions(
    program
      .command("plan")
      .description(
        "plan guest RAM at IOVA = GPA for a VMM machine and check it against the devices' usable IOVA space",
      )
      .option("--ram <size>", "guest RAM: 16G, 512M, 1T, bytes or 0x hex (binary units)")
      .option(
        "--machine <name>",
        "q35 | i440fx | arm-virt | cloud-hypervisor (default: q35; arm-virt on ARM SMMU hosts)",
      )
      .option("--devices <bdfs>", "devices to assign, comma-separated (0000:00:04.0 or 00:04.0)")
      .option("--groups <ids>", "IOMMU groups to assign, comma-separated")
      .option(
        "--fixup <mode>",
        "none | qemu (what QEMU >= 7.1 does) | split (qemu + lower lowmem + split around windows)",
        "qemu",
      )
      .option(
        "--cpu-vendor <vendor>",
        "intel | amd: vCPU vendor for QEMU's AMD 1 TiB rule (default: from the host IOMMU)",
      )
      .option("--hotplug <bdf>", "re-check the plan's mappings against hot-adding this device"),
  ).action((opts: PlanCliOptions) => {
    if (opts.ram === undefined) throw new CliError("give --ram SIZE (e.g. --ram 16G)");
    if (opts.devices === undefined && opts.groups === undefined) {
      throw new CliError("give --devices BDF[,BDF] or --groups N[,N]");
    }
    const devices = opts.devices === undefined ? [] : parseBdfList(opts.devices);
    const groups = opts.groups === undefined ? [] : parseGroupList(opts.groups);
    const hot = opts.hotplug === undefined ? undefined : parseBdfList(opts.hotplug);
    if (hot && hot.length !== 1) throw new CliError("--hotplug takes one device");
    const cpuVendor = cpuVendorOf(opts.cpuVendor);
    const ram = asUsage(() => parseSize(opts.ram!));
    const r = hostFrom(opts);
    const plan = asUsage(() => {
      selectGroups(r.host, { groups, devices });
      return planGuestMemory(r.host, {
        ram,
        groups,
        devices,
        ...(opts.machine !== undefined ? { machine: opts.machine } : {}),
        ...(opts.fixup !== undefined ? { fixup: opts.fixup } : {}),
        ...(cpuVendor !== undefined ? { cpuVendor } : {}),
        ...(hot ? { hotplug: hot[0]! } : {}),
      });
    });
    printNotices(io, r, Boolean(opts.json));
    if (opts.json) io.out(toJson({ source: r.source, notices: r.notices, ...(planJson(plan) as object) }));
    else io.out(`Source: ${describeSource(r)}\n${planText(plan)}`);
    const hotOk = !plan.hotplug || (plan.hotplug.type1.accepted && plan.hotplug.iommufd.accepted);
    if (!plan.mappable) throw new PlanNotMappableError("the guest RAM layout is not mappable (see above)");
    if (!hotOk)
      throw new PlanNotMappableError(`hot-adding ${plan.hotplug!.device} would be refused (see above)`);
  });
}
