/**
 * The view model: a JSON document (no bigint, no undefined) describing the 64-bit IOVA space as
 * lanes of items. Addresses are inclusive `start`/`last` hex strings, `size` is `last - start + 1`
 * (up to 0x10000000000000000). The browser page and the standalone HTML read only this.
 */

export const VIEW_FORMAT = "ioas-view";
export const VIEW_VERSION = 1;

export type ItemType =
  | "aperture"
  | "direct"
  | "direct-relaxable"
  | "reserved"
  | "msi"
  | "sw-msi"
  | "msi-ambiguous"
  | "usable"
  | "gap"
  | "mapping-r"
  | "mapping-w"
  | "mapping-rw"
  | "domain"
  | "range";

export type LaneKind = "iommu" | "group" | "device" | "usable" | "mappings" | "domain" | "ranges";

export interface ViewItem {
  readonly start: string;
  readonly last: string;
  readonly size: string;
  readonly sizeHuman: string;
  readonly type: ItemType;
  readonly label: string;
  /** Sub-row inside the lane; items of one row never overlap. */
  readonly row: number;
  /** Tooltip lines (source, reasons, page sizes...). */
  readonly detail: readonly string[];
  /** Something is wrong with this item (a mapping outside the usable ranges). */
  readonly warning?: string;
}

export interface ViewLane {
  readonly id: string;
  readonly kind: LaneKind;
  readonly label: string;
  readonly sublabel: string;
  readonly rows: number;
  readonly items: readonly ViewItem[];
}

/**
 * A piecewise-linear scale: `breaks[i]` (hex) sits at fraction `offsets[i]` of the width; between
 * two breaks the scale is linear. A linear scale is the two-break case.
 */
export interface ViewScale {
  readonly kind: "segments" | "linear";
  readonly breaks: readonly string[];
  readonly offsets: readonly number[];
}

export interface ViewModel {
  readonly format: typeof VIEW_FORMAT;
  readonly version: typeof VIEW_VERSION;
  readonly kind: "view";
  readonly title: string;
  readonly host: { readonly name: string; readonly description: string; readonly kernelRelease: string };
  readonly selection: { readonly groups: readonly number[]; readonly devices: readonly string[] };
  readonly lanes: readonly ViewLane[];
  /** Every interesting address edge (item starts and one-past-lasts), sorted, hex, 0 and 2^64 included. */
  readonly boundaries: readonly string[];
  /** The overview scale over the whole space. */
  readonly scale: ViewScale;
  readonly notes: readonly string[];
}

export interface TimelineStep {
  readonly label: string;
  readonly view: ViewModel;
}

export interface TimelineModel {
  readonly format: typeof VIEW_FORMAT;
  readonly version: typeof VIEW_VERSION;
  readonly kind: "timeline";
  readonly title: string;
  /** Every step's view shares one scale (built on the union of all boundaries) so steps line up. */
  readonly steps: readonly TimelineStep[];
}

export type AnyViewModel = ViewModel | TimelineModel;

export const ITEM_TYPE_LABELS: Readonly<Record<ItemType, string>> = {
  aperture: "IOMMU aperture",
  direct: "direct (identity-mapped)",
  "direct-relaxable": "direct-relaxable (type1 ignores)",
  reserved: "reserved",
  msi: "MSI window",
  "sw-msi": "software MSI window",
  "msi-ambiguous": "MSI (hw or sw: sysfs cannot tell)",
  usable: "usable IOVA (type1 iova list)",
  gap: "not usable",
  "mapping-r": "mapping, read-only",
  "mapping-w": "mapping, write-only",
  "mapping-rw": "mapping, read/write",
  domain: "domain aperture",
  range: "range",
};
