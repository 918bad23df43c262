/**
 * View model → SVG markup (pure string building, no DOM), shared by the browser page and tests.
 *
 * Layout: a label column on the left, an axis on top with a tick at every scale break (labels that
 * would collide are dropped, two staggered rows), then one band per lane, one row per packed
 * sub-row. Every item is a focusable `<g class="item">` carrying `data-lane`/`data-item` indices
 * so the page can find the model item for its tooltip; its aria-label says it in words.
 */

import { hex } from "./format.js";
import { invert, position, type Scale } from "./scale.js";
import { ITEM_TYPE_LABELS, type ItemType, type ViewItem, type ViewLane, type ViewModel } from "./types.js";

export const TYPE_COLORS: Readonly<Record<ItemType, string>> = {
  aperture: "#cfe3f7",
  direct: "#d7301f",
  "direct-relaxable": "#fc8d59",
  reserved: "#8c510a",
  msi: "#6a3d9a",
  "sw-msi": "#b15ee0",
  "msi-ambiguous": "url(#ioas-stripes)",
  usable: "#41ab5d",
  gap: "url(#ioas-hatch)",
  "mapping-r": "#6baed6",
  "mapping-w": "#fdae6b",
  "mapping-rw": "#2171b5",
  domain: "#80cdc1",
  range: "#969696",
};

/** Text colour readable on the item's fill. */
const DARK_FILLS = new Set<ItemType>([
  "direct",
  "reserved",
  "msi",
  "sw-msi",
  "msi-ambiguous",
  "usable",
  "mapping-rw",
]);

export const LAYOUT = { labelWidth: 200, axisHeight: 46, rowHeight: 24, lanePad: 7, right: 12 } as const;

export interface SvgOptions {
  readonly scale: Scale;
  /** Total width in px, label column included. */
  readonly width: number;
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Short axis text for an address: hex, with the top of the space written 2^64. */
export function axisLabel(v: bigint): string {
  return v === 1n << 64n ? "2^64" : hex(v);
}

export function describeItem(it: ViewItem, lane: ViewLane): { title: string; lines: string[] } {
  const lines = [
    `${ITEM_TYPE_LABELS[it.type]} · ${lane.label}`,
    `[${it.start}, ${it.last}]`,
    `size ${it.sizeHuman} (${it.size})`,
    ...it.detail,
    ...(it.warning !== undefined ? [`⚠ ${it.warning}`] : []),
  ];
  return { title: it.label, lines };
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

const CHAR_W = 6.6;

function ticks(scale: Scale, count: number): bigint[] {
  if (scale.kind === "segments") return [...scale.breaks];
  const out: bigint[] = [];
  for (let i = 0; i <= count; i++) out.push(i === count ? scale.breaks[1]! : invert(scale, i / count));
  return out;
}

function axis(scale: Scale, x0: number, plotW: number, height: number): string {
  const parts: string[] = [];
  const rowEnd = [-Infinity, -Infinity];
  for (const t of ticks(scale, 8)) {
    const x = x0 + position(scale, t) * plotW;
    parts.push(
      `<line class="grid" x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${LAYOUT.axisHeight - 6}" y2="${height}" />`,
    );
    const text = axisLabel(t);
    const w = text.length * CHAR_W;
    const anchorEnd = x + w > x0 + plotW + LAYOUT.right;
    const left = anchorEnd ? x - w : x;
    const row = rowEnd.findIndex((end) => left > end + 6);
    if (row < 0) continue;
    rowEnd[row] = left + w;
    const y = 16 + row * 16;
    const anchor = anchorEnd ? ` text-anchor="end"` : "";
    parts.push(`<text class="tick" x="${x.toFixed(1)}" y="${y}"${anchor}>${escapeXml(text)}</text>`);
  }
  return `<g class="axis" aria-hidden="true">${parts.join("")}</g>`;
}

function itemMarkup(
  it: ViewItem,
  li: number,
  ii: number,
  lane: ViewLane,
  scale: Scale,
  x0: number,
  plotW: number,
  y: number,
): string {
  const start = BigInt(it.start);
  const end = BigInt(it.last) + 1n;
  const first = scale.breaks[0]!;
  if (end <= first || start >= scale.breaks[scale.breaks.length - 1]!) return "";
  const xa = x0 + position(scale, start) * plotW;
  const w = Math.max(2, x0 + position(scale, end) * plotW - xa);
  const ry = y + it.row * LAYOUT.rowHeight + 2;
  const h = LAYOUT.rowHeight - 4;
  const d = describeItem(it, lane);
  const aria = escapeXml(`${d.title}: ${d.lines.slice(0, 3).join(", ")}`);
  const warn = it.warning !== undefined ? ` stroke="#c00" stroke-width="2" stroke-dasharray="4 2"` : "";
  const rect = `<rect x="${xa.toFixed(1)}" y="${ry}" width="${w.toFixed(1)}" height="${h}" rx="2" fill="${TYPE_COLORS[it.type]}"${warn} />`;
  const long = `${it.label} · ${it.sizeHuman}`;
  const shown = [long, it.label].find((t) => t.length * CHAR_W + 8 <= w);
  const fill = DARK_FILLS.has(it.type) ? "#fff" : "#111";
  const text =
    shown !== undefined
      ? `<text x="${(xa + 4).toFixed(1)}" y="${ry + h / 2 + 4}" fill="${fill}" pointer-events="none">${escapeXml(shown)}</text>`
      : "";
  return `<g class="item t-${it.type}" data-lane="${li}" data-item="${ii}" tabindex="0" role="img" aria-label="${aria}">${rect}${text}</g>`;
}

export function laneHeight(lane: ViewLane): number {
  return lane.rows * LAYOUT.rowHeight + 2 * LAYOUT.lanePad;
}

export function svgHeight(view: ViewModel): number {
  return LAYOUT.axisHeight + view.lanes.reduce((h, l) => h + laneHeight(l), 0) + 4;
}

export function renderSvg(view: ViewModel, opts: SvgOptions): string {
  const width = Math.max(opts.width, LAYOUT.labelWidth + 200);
  const x0 = LAYOUT.labelWidth;
  const plotW = width - x0 - LAYOUT.right;
  const height = svgHeight(view);
  const lanes: string[] = [];
  const bands: string[] = [];
  let y = LAYOUT.axisHeight;
  view.lanes.forEach((lane, li) => {
    const h = laneHeight(lane);
    const items = lane.items.map((it, ii) =>
      itemMarkup(it, li, ii, lane, opts.scale, x0, plotW, y + LAYOUT.lanePad),
    );
    lanes.push(
      `<g class="lane lane-${lane.kind}" data-lane="${li}" role="group" aria-label="${escapeXml(`${lane.label}, ${lane.sublabel}`)}">` +
        `<text class="lane-label" x="8" y="${y + 17}">${escapeXml(truncate(lane.label, 26))}</text>` +
        `<text class="lane-sublabel" x="8" y="${y + 31}">${escapeXml(truncate(lane.sublabel, 32))}</text>` +
        items.join("") +
        `</g>`,
    );
    bands.push(
      `<rect x="0" y="${y}" width="${width}" height="${h}" fill="${li % 2 ? "#fafafa" : "#eef1f5"}" />`,
    );
    y += h;
  });
  const defs =
    `<defs><pattern id="ioas-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
    `<rect width="6" height="6" fill="#e5e5e5" /><line x1="0" y1="0" x2="0" y2="6" stroke="#aaa" stroke-width="2" /></pattern>` +
    `<pattern id="ioas-stripes" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
    `<rect width="8" height="8" fill="#6a3d9a" /><line x1="0" y1="0" x2="0" y2="8" stroke="#b15ee0" stroke-width="4" /></pattern></defs>`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="ioas-svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="group" aria-label="${escapeXml(`IOVA space of ${view.title}`)}">` +
    defs +
    `<g class="bands" aria-hidden="true">${bands.join("")}</g>` +
    axis(opts.scale, x0, plotW, height) +
    lanes.join("") +
    `</svg>`
  );
}
