/** The hover/focus tooltip: built with textContent only (model strings are never parsed as HTML). */

import { describeItem } from "../../src/view/svg.js";
import type { ViewItem, ViewLane } from "../../src/view/types.js";

export function showTooltip(tip: HTMLElement, it: ViewItem, lane: ViewLane, x: number, y: number): void {
  const d = describeItem(it, lane);
  const title = document.createElement("strong");
  title.textContent = d.title;
  const lines = d.lines.map((text, i) => {
    const line = document.createElement("div");
    line.textContent = text;
    if (i === 1 || i === 2) line.className = "hex";
    return line;
  });
  tip.replaceChildren(title, ...lines);
  tip.hidden = false;
  const r = tip.getBoundingClientRect();
  const left = Math.min(x + 14, window.innerWidth - r.width - 8);
  const top = y + 18 + r.height > window.innerHeight ? y - r.height - 10 : y + 18;
  tip.style.left = `${Math.max(4, left)}px`;
  tip.style.top = `${Math.max(4, top)}px`;
}

export function hideTooltip(tip: HTMLElement): void {
  tip.hidden = true;
}
