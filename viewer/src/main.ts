/**
 * The IOVA-space viewer page: loads a view model, draws it with src/view/svg.ts, and wires the
 * controls (file input, scale choice, zoom window, step slider, tooltips). State is the loaded
 * timeline (a single view is a one-step timeline), the step, the zoom window and the scale kind.
 */

import { hex, parseHex } from "../../src/view/format.js";
import { linearScale, parseScale, segmentScale, FULL_WINDOW, type Window } from "../../src/view/scale.js";
import { ITEM_TYPE_LABELS, type ItemType, type TimelineModel, type ViewModel } from "../../src/view/types.js";
import { TYPE_COLORS, renderSvg } from "../../src/view/svg.js";
import { asTimeline, checkModel, initialModel } from "./load.js";
import { hideTooltip, showTooltip } from "./tooltip.js";

function el<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`page is missing #${id}`);
  return e as T;
}

const ui = {
  title: el<HTMLElement>("title"),
  subtitle: el<HTMLElement>("subtitle"),
  file: el<HTMLInputElement>("file"),
  zoom: el<HTMLFormElement>("zoom"),
  zoomStart: el<HTMLInputElement>("zoom-start"),
  zoomLast: el<HTMLInputElement>("zoom-last"),
  zoomReset: el<HTMLButtonElement>("zoom-reset"),
  steps: el<HTMLElement>("steps"),
  step: el<HTMLInputElement>("step"),
  stepLabel: el<HTMLOutputElement>("step-label"),
  error: el<HTMLElement>("error"),
  chart: el<HTMLElement>("chart"),
  tooltip: el<HTMLElement>("tooltip"),
  legend: el<HTMLElement>("legend"),
  notes: el<HTMLElement>("notes"),
};

const state: { model: TimelineModel | null; step: number; window: Window; scale: "segments" | "linear" } = {
  model: null,
  step: 0,
  window: FULL_WINDOW,
  scale: "segments",
};

function currentView(): ViewModel | null {
  return state.model?.steps[state.step]?.view ?? null;
}

function showError(message: string | null): void {
  ui.error.textContent = message ?? "";
  ui.error.hidden = message === null;
}

function swatch(type: ItemType): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", "22");
  svg.setAttribute("height", "12");
  svg.setAttribute("aria-hidden", "true");
  const rect = document.createElementNS(ns, "rect");
  rect.setAttribute("width", "22");
  rect.setAttribute("height", "12");
  rect.setAttribute("rx", "2");
  const fill = TYPE_COLORS[type];
  rect.setAttribute("fill", fill.startsWith("url(") ? (type === "gap" ? "#d4d4d4" : "#8f5bb5") : fill);
  svg.append(rect);
  return svg;
}

function renderLegend(model: TimelineModel): void {
  const types = new Set<ItemType>();
  for (const s of model.steps) for (const l of s.view.lanes) for (const it of l.items) types.add(it.type);
  const order = Object.keys(ITEM_TYPE_LABELS) as ItemType[];
  ui.legend.replaceChildren(
    ...order
      .filter((t) => types.has(t))
      .map((t) => {
        const li = document.createElement("li");
        li.append(swatch(t), ITEM_TYPE_LABELS[t]);
        return li;
      }),
  );
}

function render(): void {
  const view = currentView();
  if (!view || !state.model) return;
  hideTooltip(ui.tooltip);
  // A timeline's views all carry the scale of the union of every step's boundaries.
  const points = parseScale(view.scale).breaks;
  const scale = state.scale === "segments" ? segmentScale(points, state.window) : linearScale(state.window);
  ui.chart.innerHTML = renderSvg(view, { scale, width: Math.max(ui.chart.clientWidth, 700) });
  ui.zoomStart.value = hex(state.window.start);
  ui.zoomLast.value = hex(state.window.last);
  const steps = state.model.steps;
  ui.steps.hidden = steps.length < 2;
  ui.step.max = String(steps.length - 1);
  ui.step.value = String(state.step);
  const label = `${state.step + 1} / ${steps.length}${steps[state.step]?.label ? `: ${steps[state.step]!.label}` : ""}`;
  ui.stepLabel.textContent = label;
  ui.step.setAttribute("aria-valuetext", label);
  ui.notes.replaceChildren(
    ...view.notes.map((n) => {
      const li = document.createElement("li");
      li.textContent = n;
      return li;
    }),
  );
  document.body.dataset["step"] = String(state.step);
  document.body.dataset["ready"] = "true";
}

function load(model: TimelineModel): void {
  state.model = model;
  state.step = 0;
  state.window = FULL_WINDOW;
  const first = model.steps[0]!.view;
  ui.title.textContent = `IOVA space — ${model.title}`;
  ui.subtitle.textContent = `${first.host.description || first.host.name} · kernel ${first.host.kernelRelease}`;
  document.title = `IOVA space — ${model.title}`;
  renderLegend(model);
  showError(null);
  render();
}

function zoomTo(w: Window): void {
  state.window = w;
  render();
}

function itemOf(target: EventTarget | null) {
  const g = target instanceof Element ? target.closest<SVGGElement>("g.item") : null;
  const lane = currentView()?.lanes[Number(g?.dataset["lane"])];
  const it = lane?.items[Number(g?.dataset["item"])];
  return g && lane && it ? { g, lane, it } : null;
}

function wire(): void {
  ui.chart.addEventListener("pointermove", (e) => {
    const hit = itemOf(e.target);
    if (hit) showTooltip(ui.tooltip, hit.it, hit.lane, e.clientX, e.clientY);
    else hideTooltip(ui.tooltip);
  });
  ui.chart.addEventListener("pointerleave", () => hideTooltip(ui.tooltip));
  ui.chart.addEventListener("focusin", (e) => {
    const hit = itemOf(e.target);
    if (!hit) return;
    const r = hit.g.getBoundingClientRect();
    showTooltip(ui.tooltip, hit.it, hit.lane, r.left, r.bottom - 10);
  });
  ui.chart.addEventListener("focusout", () => hideTooltip(ui.tooltip));
  ui.chart.addEventListener("click", (e) => {
    const hit = itemOf(e.target);
    if (hit) zoomTo({ start: parseHex(hit.it.start), last: parseHex(hit.it.last) });
  });
  ui.chart.addEventListener("keydown", (e) => {
    const hit = itemOf(e.target);
    if (e.key === "Enter" && hit) zoomTo({ start: parseHex(hit.it.start), last: parseHex(hit.it.last) });
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") zoomTo(FULL_WINDOW);
  });
  ui.zoom.addEventListener("submit", (e) => {
    e.preventDefault();
    try {
      const w = { start: parseHex(ui.zoomStart.value), last: parseHex(ui.zoomLast.value) };
      if (w.start > w.last || w.last > FULL_WINDOW.last)
        throw new RangeError("need start ≤ last ≤ 0xffffffffffffffff");
      showError(null);
      zoomTo(w);
    } catch (err) {
      showError(`zoom: ${(err as Error).message}`);
    }
  });
  ui.zoomReset.addEventListener("click", () => zoomTo(FULL_WINDOW));
  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="scale"]')) {
    radio.addEventListener("change", () => {
      state.scale = radio.value === "linear" ? "linear" : "segments";
      render();
    });
  }
  ui.step.addEventListener("input", () => {
    state.step = Number(ui.step.value);
    render();
  });
  ui.file.addEventListener("change", () => {
    const f = ui.file.files?.[0];
    if (!f) return;
    f.text()
      .then((text) => load(asTimeline(checkModel(JSON.parse(text)))))
      .catch((err: unknown) => showError(`${f.name}: ${(err as Error).message}`));
  });
  let pending = false;
  window.addEventListener("resize", () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      render();
    });
  });
}

wire();
initialModel()
  .then((m) => {
    if (m) load(asTimeline(m));
    else showError("no model: load a view model JSON file or open this page with ?model=URL");
  })
  .catch((err: unknown) => showError((err as Error).message));
