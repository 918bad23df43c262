/**
 * The host a trace ran on (FORMAT.md §7 step 1): the sysfs dump read by the host module's
 * `hostFromSysfsDump`, with the run definition's facts on top (kernel release, per-module
 * `allow_unsafe_interrupts`). Until the dump reader exists, the reference-guest presets stand in.
 */

import { qemuQ35VtdHost, virtioIommuHost } from "../core/topology/presets.js";
import type { Host, HostParams } from "../core/topology/types.js";
import type { RunDefinition } from "./records.js";

type DumpReader = (text: string, run?: unknown) => Host;

let reader: DumpReader | null | undefined;

async function dumpReader(): Promise<DumpReader | null> {
  if (reader !== undefined) return reader;
  // A computed specifier: the module is owned by the host layer and may not exist yet.
  const spec = "../host/sysfs-dump.js";
  try {
    const mod = (await import(spec)) as { hostFromSysfsDump?: DumpReader };
    reader = typeof mod.hostFromSysfsDump === "function" ? mod.hostFromSysfsDump : null;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") throw e;
    reader = null;
  }
  return reader;
}

function param(sysfs: string, module: string, name: string): string | undefined {
  const re = new RegExp(`^param /sys/module/${module}/parameters/${name} = (\\S+)`, "m");
  return re.exec(sysfs)?.[1];
}

/** The reference guest of FORMAT.md §2 from the run definition alone (fallback). */
function presetHost(run: RunDefinition): Host {
  if (run.iommu === "virtio-iommu") return virtioIommuHost({ kernelRelease: run.kernel });
  return qemuQ35VtdHost({
    kernelRelease: run.kernel,
    addressWidth: run.aw_bits ?? 39,
    interruptRemapping: run.intremap ?? true,
  });
}

/** Apply the run definition's module parameters and kernel release to a host. */
export function applyRun(host: Host, run: RunDefinition, sysfs = ""): Host {
  const limit = param(sysfs, "vfio_iommu_type1", "dma_entry_limit");
  const noHuge = param(sysfs, "vfio_iommu_type1", "disable_hugepages");
  const params: HostParams = {
    ...host.params,
    kernelRelease: run.kernel,
    type1: {
      ...host.params.type1,
      allowUnsafeInterrupts: run.allow_unsafe_interrupts.vfio_iommu_type1,
      ...(limit !== undefined ? { dmaEntryLimit: Number(limit) } : {}),
      ...(noHuge !== undefined ? { disableHugepages: noHuge === "Y" } : {}),
    },
    iommufd:
      host.params.iommufd === null
        ? null
        : { ...host.params.iommufd, allowUnsafeInterrupts: run.allow_unsafe_interrupts.iommufd },
  };
  return { ...host, name: `trace ${run.run}`, params };
}

/** Build the host of a run from its definition and sysfs dump. */
export async function hostFromRun(run: RunDefinition, sysfs: string): Promise<Host> {
  const read = await dumpReader();
  const base = read ? read(sysfs, run) : presetHost(run);
  return applyRun(base, run, sysfs);
}
