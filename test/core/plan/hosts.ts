// Test hosts: presets with extra reserved regions added to one group (and its devices).
import type { Host, ReservedRegion } from "../../../src/core/topology/types.js";

export function withReserved(host: Host, group: number, regions: readonly ReservedRegion[]): Host {
  const g = host.groups.find((x) => x.id === group)!;
  return {
    ...host,
    groups: host.groups.map((x) =>
      x.id === group ? { ...x, reservedRegions: [...x.reservedRegions, ...regions] } : x,
    ),
    devices: host.devices.map((d) =>
      g.devices.includes(d.bdf) ? { ...d, reservedRegions: [...d.reservedRegions, ...regions] } : d,
    ),
  };
}
