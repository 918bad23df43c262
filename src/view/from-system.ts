/**
 * What a live simulated system maps, as the viewer's inputs: every IOAS's areas (iommufd, native or
 * compat) and every type1 container's DMA mappings, read from the engines' JSON snapshots — nothing
 * recomputed here.
 */

import { VfioContainer } from "../core/vfio/container.js";
import { iommufdContexts } from "../uapi/iommufd/file.js";
import type { Kernel } from "../uapi/system.js";
import { vfioSubsystem } from "../uapi/vfio/index.js";
import type { MappingInput } from "./model.js";

function perms(prot: string): MappingInput["perms"] {
  const r = prot.includes("r");
  const w = prot.includes("w");
  return r && w ? "rw" : r ? "r" : w ? "w" : undefined;
}

function mapping(iova: bigint, length: bigint, label: string, prot: string): MappingInput {
  const p = perms(prot);
  return p ? { iova, length, label, perms: p } : { iova, length, label };
}

/** Every user mapping of the system, labelled by its context. */
export function systemMappings(kernel: Kernel): MappingInput[] {
  const out: MappingInput[] = [];
  let ctxIndex = 0;
  for (const ctx of iommufdContexts(kernel)) {
    ctxIndex++;
    for (const obj of ctx.snapshot().objects) {
      if (obj.kind !== "ioas") continue;
      const owner = `iommufd#${ctxIndex} ioas ${obj.id}`;
      for (const a of obj.areas) {
        const iova = BigInt(a.iova);
        out.push(mapping(iova, BigInt(a.last) - iova + 1n, owner, a.prot));
      }
    }
  }
  const containers = new Set<VfioContainer>();
  for (const g of vfioSubsystem(kernel).groups) {
    const user = g.legacyUser;
    if (user?.kind === "container" && user.container instanceof VfioContainer) containers.add(user.container);
  }
  let cIndex = 0;
  for (const c of containers) {
    cIndex++;
    const snap = c.snapshot();
    const owner = `container#${cIndex} (groups ${snap.groups.join(",")})`;
    for (const d of snap.backend?.dmas ?? [])
      out.push(mapping(BigInt(d.iova), BigInt(d.size), owner, d.prot));
  }
  return out;
}
