/**
 * The host a trace ran on (FORMAT.md §7 step 1): the sysfs dump read by the host module's
 * `hostFromSysfsDump`, completed by the run definition (kernel release, IOMMU model, address width,
 * interrupt remapping, per-module `allow_unsafe_interrupts`), which wins where both speak.
 */

import type { Host, HostParams } from "../core/topology/types.js";
import { hostFromSysfsDump } from "../host/sysfs-dump.js";
import type { RunDefinition } from "./records.js";

/** Apply the run definition's kernel release and module parameters to a host. */
export function applyRun(host: Host, run: RunDefinition): Host {
  const params: HostParams = {
    ...host.params,
    kernelRelease: run.kernel,
    type1: { ...host.params.type1, allowUnsafeInterrupts: run.allow_unsafe_interrupts.vfio_iommu_type1 },
    iommufd:
      host.params.iommufd === null
        ? null
        : { ...host.params.iommufd, allowUnsafeInterrupts: run.allow_unsafe_interrupts.iommufd },
  };
  return { ...host, name: `trace ${run.run}`, params };
}

/** Build the host of a run from its definition and sysfs dump (`file` names the dump in errors). */
export function hostFromRun(run: RunDefinition, sysfs: string, file = "sysfs dump"): Host {
  return applyRun(
    hostFromSysfsDump(
      sysfs,
      {
        kernel: run.kernel,
        iommu: run.iommu,
        intremap: run.intremap,
        aw_bits: run.aw_bits,
        allow_unsafe_interrupts: run.allow_unsafe_interrupts,
      },
      file,
    ),
    run,
  );
}
