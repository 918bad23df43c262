/**
 * Public typed API of ioas: one engine, many faces. Import from "ioas" (dist/index.js).
 *
 *   - u64 helpers, errno (IoasError), IOVA range algebra, kernel feature switches
 *   - the host model, presets, usable-range computation, host snapshots and sysfs reading
 *   - the simulated system: createSystem(host) → a kernel with /dev/iommu, /dev/vfio/* and
 *     processes; UserClient speaks the binary uAPI from a process
 *   - the engines' typed APIs (iommufd context, type1 container) and the DMA datapath
 *   - the guest-memory planner, compat-diff, the viewer's model, the trace replayer
 */
export * from "./core/u64.js";
export * from "./core/errno.js";
export * from "./core/ranges.js";
export * from "./core/kernel.js";
export type * from "./core/topology/types.js";
export {
  PRESETS,
  DEFAULT_PRESET,
  presetNames,
  qemuQ35VtdHost,
  vtdHost,
  amdHost,
  smmuHost,
  virtioIommuHost,
  twoIommuHost,
  noIommuHost,
} from "./core/topology/presets.js";
export { usableRanges, UsableRangesError, type UsableResult, type Gap } from "./core/topology/usable.js";
export { validateHost, groupViable } from "./core/topology/validate.js";
export { resolveHost, type ResolvedHost } from "./host/resolve.js";
export { loadSnapshot, saveSnapshot, snapshotFromText, snapshotToText } from "./host/snapshot.js";
export * from "./process/memory.js";
export { Process, type Credentials } from "./process/process.js";
export { createSystem, Kernel, type System } from "./uapi/system.js";
export { UserClient, type Perms } from "./client/user-api.js";
export { IommufdContext } from "./core/iommufd/context.js";
export { IommuDomain } from "./core/domain.js";
export {
  deviceRead,
  deviceWrite,
  type DmaOutcome,
  type DmaReadOutcome,
  type MsiRecord,
} from "./core/dma/engine.js";
export type { DmaFault } from "./core/dma/fault.js";
export { decomposePageSizes, type PageSizeUse } from "./core/dma/page-sizes.js";
export {
  compatDiff,
  parseScenario,
  DEFAULT_SCENARIO,
  type Scenario,
  type CompatDiffReport,
} from "./core/vfio/compat-diff.js";
export { planGuestMemory, parseSize, type PlanOptions } from "./core/plan/index.js";
export { buildView, buildTimeline, renderStandaloneHtml } from "./view/index.js";
export { runSuite } from "./replay/suite.js";
export { withFaultInjection, shouldFail } from "./core/fault.js";
export { sweep, type SweepScenario, type SweepReport } from "./core/fault-sweep.js";
