/**
 * Engine data → view model (pure, JSON-serialisable; see types.ts).
 *
 * Lanes, top to bottom: the apertures of the IOMMU units involved, one lane per selected IOMMU group
 * with its reserved regions (the group list type1 uses), a lane per device whose own list differs
 * from its group's (the per-device list iommufd uses), type1's usable ranges with every gap
 * explained (from core/topology/usable.ts, never recomputed here), then domains, named range lists
 * and mappings. A timeline is an array of views sharing one scale.
 */

import { lastOf } from "../core/u64.js";
import { containsRange, type IovaRange } from "../core/ranges.js";
import { decomposePageSizes } from "../core/dma/page-sizes.js";
import type { Host, IommuGroup, IommuUnit, ReservedRegion } from "../core/topology/types.js";
import { usableRanges, type GapReason, type UsableResult } from "../core/topology/usable.js";
import { hex, humanSize, pageSizesText } from "./format.js";
import { SPACE_END, segmentScale, serializeScale } from "./scale.js";
import {
  VIEW_FORMAT,
  VIEW_VERSION,
  type ItemType,
  type TimelineModel,
  type ViewItem,
  type ViewLane,
  type ViewModel,
} from "./types.js";

export interface MappingInput {
  readonly iova: bigint;
  readonly length: bigint;
  readonly label?: string;
  readonly perms?: "r" | "w" | "rw";
}

export interface DomainInput {
  readonly id: number | string;
  readonly unit: string;
  readonly aperture: IovaRange;
  readonly pgsizeBitmap: bigint;
}

/** A named list of ranges drawn as its own lane (an IOAS's allowed or reserved list, areas...). */
export interface RangeLaneInput {
  readonly label: string;
  readonly ranges: readonly (IovaRange & { readonly label?: string })[];
}

export interface ViewInput {
  readonly host: Host;
  /** Default: the groups holding a vfio-pci device, else every group. */
  readonly selection?: { readonly groups?: readonly number[]; readonly devices?: readonly string[] };
  readonly mappings?: readonly MappingInput[];
  readonly domains?: readonly DomainInput[];
  readonly ranges?: readonly RangeLaneInput[];
  readonly title?: string;
}

export interface TimelineStepInput extends ViewInput {
  readonly label?: string;
}

type Draft = Omit<ViewItem, "row" | "start" | "last" | "size" | "sizeHuman"> & IovaRange;

function item(r: IovaRange, type: ItemType, label: string, detail: string[], warning?: string): Draft {
  return { start: r.start, last: r.last, type, label, detail, ...(warning ? { warning } : {}) };
}

function fmt(r: IovaRange): string {
  return `[${hex(r.start)}, ${hex(r.last)}]`;
}

/** Greedy interval packing: each item takes the first row whose previous item ended before it. */
function lane(
  id: string,
  kind: ViewLane["kind"],
  label: string,
  sublabel: string,
  drafts: Draft[],
): ViewLane {
  const sorted = [...drafts].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const rowLast: bigint[] = [];
  const items = sorted.map((d): ViewItem => {
    let row = rowLast.findIndex((last) => last < d.start);
    if (row < 0) row = rowLast.push(d.last) - 1;
    else rowLast[row] = d.last;
    const size = d.last - d.start + 1n;
    return {
      start: hex(d.start),
      last: hex(d.last),
      size: hex(size),
      sizeHuman: humanSize(size),
      type: d.type,
      label: d.label,
      row,
      detail: d.detail,
      ...(d.warning !== undefined ? { warning: d.warning } : {}),
    };
  });
  return { id, kind, label, sublabel, rows: Math.max(1, rowLast.length), items };
}

function defaultGroups(host: Host): number[] {
  const vfio = host.groups.filter((g) =>
    g.devices.some((bdf) => host.devices.find((d) => d.bdf === bdf)?.driver === "vfio-pci"),
  );
  return (vfio.length > 0 ? vfio : host.groups).map((g) => g.id);
}

function regionType(r: ReservedRegion): ItemType {
  return r.msiAmbiguous ? "msi-ambiguous" : r.type;
}

function regionItems(regions: readonly ReservedRegion[]): Draft[] {
  return regions.map((r) => {
    const type1 =
      r.type === "direct-relaxable" ? "type1 ignores it (relaxable)" : "type1 cuts it from the iova list";
    const detail = [...(r.source ? [`source: ${r.source}`] : []), type1];
    if (r.msiAmbiguous) detail.push("sysfs prints hw and sw MSI windows both as `msi`");
    return item(r, regionType(r), r.type, detail);
  });
}

function unitLane(u: IommuUnit): ViewLane {
  const detail = [
    `${u.kind}, ${u.addressWidth}-bit, driver ${u.driver}`,
    `page sizes: ${pageSizesText(u.pgsizeBitmap)}`,
    `cache coherency ${u.enforceCacheCoherency ? "enforceable" : "not enforceable"}, dirty tracking ${u.dirtyTracking ? "yes" : "no"}`,
    `MSI isolation ${u.msiIsolation ? "yes" : "no"}`,
  ];
  const drafts = [item(u.aperture, "aperture", `${u.name} aperture`, detail)];
  return lane(`iommu:${u.name}`, "iommu", u.name, `${u.kind} · ${u.addressWidth}-bit`, drafts);
}

function groupLane(g: IommuGroup): ViewLane {
  const sub = `${g.type} · ${g.devices.join(", ") || "no devices"}`;
  return lane(`group:${g.id}`, "group", `group ${g.id}`, sub, regionItems(g.reservedRegions));
}

function sameRegions(a: readonly ReservedRegion[], b: readonly ReservedRegion[]): boolean {
  return (
    a.length === b.length &&
    a.every((r, i) => r.start === b[i]!.start && r.last === b[i]!.last && r.type === b[i]!.type)
  );
}

function reasonText(r: GapReason): string {
  if (r.kind === "aperture") return `outside ${r.iommu} aperture ${fmt(r.aperture)}`;
  const who = r.devices.length > 0 ? ` (${r.devices.join(", ")})` : "";
  const src = r.region.source ? `, ${r.region.source}` : "";
  return `group ${r.group}${who}: ${r.region.type} ${fmt(r.region)}${src}`;
}

function usableLane(u: UsableResult, pgsizes: bigint): ViewLane {
  const drafts: Draft[] = u.ranges.map((r) =>
    item(r, "usable", "usable", [
      "an entry of type1's IOVA_RANGE capability",
      `page sizes: ${pageSizesText(pgsizes)}`,
    ]),
  );
  for (const g of u.gaps) drafts.push(item(g, "gap", "gap", g.reasons.map(reasonText)));
  const sub = u.ranges.length === 0 ? "empty: attach fails with EINVAL" : `${u.ranges.length} range(s)`;
  return lane("usable", "usable", "usable (type1)", sub, drafts);
}

function mappingItem(m: MappingInput, usable: UsableResult | null, pgsizes: bigint): Draft {
  const last = lastOf(m.iova, m.length);
  if (last === undefined) {
    throw new RangeError(`mapping ${hex(m.iova)}+${hex(m.length)} is empty or wraps past 2^64-1`);
  }
  const r = { start: m.iova, last };
  const perms = m.perms ?? "rw";
  const detail = [`permissions: ${perms}`];
  if (pgsizes !== 0n) {
    try {
      const uses = decomposePageSizes(m.iova, m.length, pgsizes);
      detail.push(
        `IOMMU pages at best: ${uses.map((p) => `${humanSize(p.pageSize)} × ${p.count}`).join(", ")}`,
      );
    } catch {
      detail.push(`not aligned to the smallest IOMMU page (${pageSizesText(pgsizes & -pgsizes)})`);
    }
  }
  const outside =
    usable !== null && !containsRange(usable.ranges, r.start, r.last)
      ? "not inside one usable range: type1 MAP_DMA fails with EINVAL"
      : undefined;
  return item(r, `mapping-${perms}`, m.label ?? "mapping", detail, outside);
}

function domainLane(d: DomainInput): ViewLane {
  const detail = [`unit ${d.unit}`, `page sizes: ${pageSizesText(d.pgsizeBitmap)}`];
  const drafts = [item(d.aperture, "domain", `domain ${d.id}`, detail)];
  return lane(`domain:${d.id}`, "domain", `domain ${d.id}`, `on ${d.unit}`, drafts);
}

function rangesLane(r: RangeLaneInput, index: number): ViewLane {
  const drafts = r.ranges.map((x) => item(x, "range", x.label ?? r.label, []));
  return lane(`ranges:${index}`, "ranges", r.label, `${r.ranges.length} range(s)`, drafts);
}

interface Lanes {
  readonly lanes: ViewLane[];
  readonly selection: ViewModel["selection"];
  readonly notes: string[];
}

function buildLanes(input: ViewInput): Lanes {
  const { host } = input;
  const notes: string[] = [];
  const sel = input.selection ?? { groups: defaultGroups(host) };
  const usable = host.groups.length > 0 ? usableRanges(host, sel) : null;
  if (usable === null) notes.push(`${host.name} has no IOMMU groups: no type1 usable ranges`);
  const groups = (usable?.groups ?? []).map((id) => host.groups.find((g) => g.id === id)!);
  const devices = groups.flatMap((g) => g.devices);
  const units = usable === null ? host.iommus : host.iommus.filter((u) => usable.iommus.includes(u.name));
  const pgsizes =
    units.reduce((acc, u) => acc & u.pgsizeBitmap, units.length > 0 ? -1n : 0n) & (SPACE_END - 1n);

  const lanes: ViewLane[] = units.map(unitLane);
  for (const g of groups) {
    lanes.push(groupLane(g));
    for (const bdf of g.devices) {
      const d = host.devices.find((x) => x.bdf === bdf);
      if (!d || sameRegions(d.reservedRegions, g.reservedRegions)) continue;
      const sub = `own list (iommufd) · ${d.driver ?? "unbound"}`;
      lanes.push(lane(`device:${bdf}`, "device", bdf, sub, regionItems(d.reservedRegions)));
    }
  }
  if (usable !== null) {
    lanes.push(usableLane(usable, pgsizes));
    notes.push(...usable.notes);
    for (const x of usable.ignored)
      notes.push(`group ${x.group}: direct-relaxable ${fmt(x.region)} ignored by type1`);
  }
  for (const d of input.domains ?? []) lanes.push(domainLane(d));
  (input.ranges ?? []).forEach((r, i) => lanes.push(rangesLane(r, i)));
  if (input.mappings !== undefined) {
    const drafts = input.mappings.map((m) => mappingItem(m, usable, pgsizes));
    lanes.push(lane("mappings", "mappings", "mappings", `${drafts.length} mapping(s)`, drafts));
  }
  return { lanes, selection: { groups: usable?.groups ?? [], devices }, notes };
}

/** Every item edge (start and last + 1) plus 0 and 2^64, sorted and unique. */
function boundariesOf(lanes: readonly ViewLane[]): bigint[] {
  const set = new Set<bigint>([0n, SPACE_END]);
  for (const l of lanes) {
    for (const it of l.items) {
      set.add(BigInt(it.start));
      set.add(BigInt(it.last) + 1n);
    }
  }
  return [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function assemble(input: ViewInput, built: Lanes, points: readonly bigint[]): ViewModel {
  const { host } = input;
  return {
    format: VIEW_FORMAT,
    version: VIEW_VERSION,
    kind: "view",
    title: input.title ?? host.name,
    host: { name: host.name, description: host.description ?? "", kernelRelease: host.params.kernelRelease },
    selection: built.selection,
    lanes: built.lanes,
    boundaries: boundariesOf(built.lanes).map(hex),
    scale: serializeScale(segmentScale(points)),
    notes: built.notes,
  };
}

export function buildView(input: ViewInput): ViewModel {
  const built = buildLanes(input);
  return assemble(input, built, boundariesOf(built.lanes));
}

/** One view per step, all on the scale of the union of every step's boundaries. */
export function buildTimeline(steps: readonly TimelineStepInput[], title?: string): TimelineModel {
  const built = steps.map(buildLanes);
  const points = boundariesOf(built.flatMap((b) => b.lanes));
  return {
    format: VIEW_FORMAT,
    version: VIEW_VERSION,
    kind: "timeline",
    title: title ?? steps[0]?.title ?? steps[0]?.host.name ?? "timeline",
    steps: steps.map((s, i) => ({ label: s.label ?? `step ${i + 1}`, view: assemble(s, built[i]!, points) })),
  };
}
