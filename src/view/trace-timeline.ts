/**
 * A kernel trace as a viewer timeline: replay it and take one step after every record that changed
 * what is mapped or attached (MAP, UNMAP, COPY, attach/detach, container changes, section ends).
 */

import { Replayer } from "../replay/executor.js";
import { hostFromRun } from "../replay/host-from-run.js";
import type { Trace } from "../replay/loader.js";
import { createSystem } from "../uapi/system.js";
import { systemMappings } from "./from-system.js";
import { buildTimeline, type TimelineStepInput } from "./model.js";
import type { TimelineModel } from "./types.js";

const STEP_OPS = new Set([
  "VFIO_IOMMU_MAP_DMA",
  "VFIO_IOMMU_UNMAP_DMA",
  "VFIO_SET_IOMMU",
  "VFIO_GROUP_SET_CONTAINER",
  "VFIO_GROUP_UNSET_CONTAINER",
  "VFIO_GROUP_GET_DEVICE_FD",
  "IOMMU_IOAS_MAP",
  "IOMMU_IOAS_UNMAP",
  "IOMMU_IOAS_COPY",
  "IOMMU_DESTROY",
  "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
  "VFIO_DEVICE_DETACH_IOMMUFD_PT",
  "close",
]);

export interface TraceTimelineOptions {
  /** Keep at most this many steps (evenly thinned, the last one always kept). Default 400. */
  readonly maxSteps?: number;
}

export function traceTimeline(trace: Trace, opts: TraceTimelineOptions = {}): TimelineModel {
  const host = hostFromRun(trace.run, trace.sysfs, trace.sysfsFile);
  const replayer = new Replayer(createSystem(host).kernel);
  const steps: TimelineStepInput[] = [];
  for (const rec of trace.records) {
    replayer.step(rec);
    if (rec.kind === "op" && STEP_OPS.has(rec.op)) {
      // The replay reproduces the kernel's answer; label the step with it.
      const outcome = rec.ret < 0 ? (rec.errno ?? "error") : "ok";
      steps.push({
        host,
        label: `seq ${rec.seq} ${rec.section}/${rec.case} ${rec.op} → ${outcome}`,
        mappings: systemMappings(replayer.kernel),
      });
    }
  }
  replayer.finish();
  const max = Math.max(2, opts.maxSteps ?? 400);
  const kept =
    steps.length <= max
      ? steps
      : steps.filter((_, i) => i === steps.length - 1 || i % Math.ceil(steps.length / max) === 0);
  return buildTimeline(kept, `trace ${trace.name}`);
}
