/** Finding and checking the view model: `?model=URL`, else the model embedded in the page. */

import { VIEW_FORMAT, VIEW_VERSION, type AnyViewModel, type TimelineModel } from "../../src/view/types.js";

export class ModelError extends Error {
  override readonly name = "ModelError";
}

export function checkModel(data: unknown): AnyViewModel {
  const m = data as Partial<AnyViewModel> | null;
  if (typeof m !== "object" || m === null || m.format !== VIEW_FORMAT) {
    throw new ModelError(`not an ioas view model (expected "format": "${VIEW_FORMAT}")`);
  }
  if (m.version !== VIEW_VERSION) throw new ModelError(`unsupported view model version ${String(m.version)}`);
  if (m.kind === "timeline") {
    if (!Array.isArray(m.steps) || m.steps.length === 0) throw new ModelError("timeline without steps");
  } else if (m.kind !== "view" || !Array.isArray(m.lanes)) {
    throw new ModelError(`unknown model kind ${String(m.kind)}`);
  }
  return m as AnyViewModel;
}

/** A single view is a one-step timeline. */
export function asTimeline(m: AnyViewModel): TimelineModel {
  if (m.kind === "timeline") return m;
  return {
    format: m.format,
    version: m.version,
    kind: "timeline",
    title: m.title,
    steps: [{ label: "", view: m }],
  };
}

export async function initialModel(): Promise<AnyViewModel | null> {
  const url = new URLSearchParams(location.search).get("model");
  if (url !== null) {
    const res = await fetch(url);
    if (!res.ok) throw new ModelError(`cannot load ${url}: HTTP ${res.status}`);
    return checkModel(await res.json());
  }
  const embedded = document.getElementById("ioas-model")?.textContent ?? "null";
  const data: unknown = JSON.parse(embedded);
  return data === null ? null : checkModel(data);
}
