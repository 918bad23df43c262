/** The IOVA-space viewer's public side: engine data → view model → SVG / HTML. */
export { buildTimeline, buildView } from "./model.js";
export type { DomainInput, MappingInput, RangeLaneInput, TimelineStepInput, ViewInput } from "./model.js";
export { renderHtml, renderStandaloneHtml } from "./html.js";
export { renderSvg } from "./svg.js";
export {
  FULL_WINDOW,
  invert,
  linearScale,
  parseScale,
  position,
  segmentScale,
  serializeScale,
} from "./scale.js";
export type { Scale, Window } from "./scale.js";
export * from "./types.js";
