/** Whole-system snapshot and restore (versioned JSON) and the reference model of the mapping rules. */

export { StateError } from "./errors.js";
export {
  loadState,
  restoreState,
  saveState,
  stateToText,
  STATE_CLASSES,
  STATE_FORMAT,
  STATE_VERSION,
  type RestoredState,
  type SaveOptions,
  type StateDocument,
  type StateSummary,
} from "./state.js";
