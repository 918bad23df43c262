/**
 * Workload 4: IOMMU_IOAS_IOVA_RANGES (iommufd) and VFIO_IOMMU_GET_INFO (type1) on a synthetic host
 * of 10^3 assignable devices (one group each) with 10^4 reserved regions in all, every device
 * attached — through the binary uAPI (the answers are ~10^4 ranges long). The set-up time (10^3
 * binds + attaches, or SET_CONTAINERs) is reported in the note.
 */

import { iommuIoasIovaRanges } from "../src/uapi/structs/iommufd.js";
import { vfioIommuType1Info } from "../src/uapi/structs/vfio.js";
import * as N from "../src/uapi/numbers.js";
import { assembleHost, presetParams, type DeviceSpec } from "../src/core/topology/presets.js";
import { mergeGroupRegions } from "../src/core/topology/regions.js";
import { vtdUnit } from "../src/core/topology/units.js";
import { vtdCapFor, vtdEcapFor } from "../src/core/topology/vtd.js";
import type { Host, ReservedRegion } from "../src/core/topology/types.js";
import { now, type Bench } from "./lib.js";
import { ARENA, benchHost, userProcess } from "./setup.js";

/** `devices` vfio-pci devices behind one 48-bit VT-d unit, `perDevice` reserved regions each. */
export function syntheticHost(devices: number, perDevice: number): Host {
  const unit = vtdUnit("dmar0", vtdCapFor(48), vtdEcapFor({ interruptRemapping: true }));
  const specs: DeviceSpec[] = [];
  for (let i = 0; i < devices; i++) {
    const bus = (i >> 5) + 1;
    const slot = i & 31;
    const bdf = `0000:${bus.toString(16).padStart(2, "0")}:${slot.toString(16).padStart(2, "0")}.0`;
    specs.push({
      bdf,
      vendor: 0x1234,
      device: 0x11e8,
      class: 0xff00,
      driver: "vfio-pci",
      group: i + 1,
      iommu: "dmar0",
    });
  }
  const base = assembleHost(
    "synthetic",
    "bench: many devices and reserved regions",
    presetParams(),
    [unit],
    specs,
  );
  // Each device gets `perDevice` distinct 64 KiB reserved windows (RMRR-like) at 1 MiB strides from 16 GiB.
  const extra = (i: number): ReservedRegion[] =>
    Array.from({ length: perDevice }, (_, j) => {
      const start = (1n << 34n) + BigInt(i * perDevice + j) * (1n << 20n);
      return { start, last: start + 0xffffn, type: "reserved" as const, source: "bench" };
    });
  const devs = base.devices.map((d, i) => ({ ...d, reservedRegions: [...d.reservedRegions, ...extra(i)] }));
  const groups = base.groups.map((g) => ({
    ...g,
    reservedRegions: mergeGroupRegions(devs.filter((d) => d.group === g.id).map((d) => d.reservedRegions)),
  }));
  return benchHost({ ...base, devices: devs, groups });
}

const RANGE_BUF = ARENA; // the arena holds the output arrays

function iovaRanges(host: Host, devices: number): { ms: number; ranges: number; setup: number } {
  const client = userProcess(1n << 24n, host);
  const p = client.process;
  const t0 = now();
  const fd = client.open("/dev/iommu");
  const ioas = client.ioasAlloc(fd);
  for (let i = 0; i < devices; i++) {
    const cdev = client.open(`/dev/vfio/devices/vfio${i}`);
    client.bind(cdev, fd);
    client.attach(cdev, ioas);
  }
  const setup = now() - t0;
  const arg = ARENA + (1n << 23n);
  const query = (cap: number) => {
    p.memory.write(
      arg,
      iommuIoasIovaRanges.encode({
        size: iommuIoasIovaRanges.size,
        ioas_id: ioas,
        num_iovas: cap,
        allowed_iovas: RANGE_BUF,
      }),
    );
    const r = p.ioctl(fd, N.IOMMU_IOAS_IOVA_RANGES, arg);
    return { r, n: iommuIoasIovaRanges.decode(p.memory.read(arg, iommuIoasIovaRanges.size)).num_iovas };
  };
  const t1 = now();
  const first = query(0); // EMSGSIZE: learn the count
  const second = query(first.n);
  const ms = now() - t1;
  if (second.r.errno) throw new Error(`IOVA_RANGES: ${second.r.errno}`);
  return { ms, ranges: second.n, setup };
}

function getInfo(host: Host, devices: number): { ms: number; bytes: number; setup: number } {
  const client = userProcess(1n << 24n, host);
  const p = client.process;
  const t0 = now();
  const container = client.open("/dev/vfio/vfio");
  for (let i = 0; i < devices; i++) {
    const g = client.open(`/dev/vfio/${i + 1}`);
    client.setContainer(g, container);
    if (i === 0) client.setIommu(container, 3);
  }
  const setup = now() - t0;
  const query = (argsz: number) => {
    p.memory.write(ARENA, vfioIommuType1Info.encode({ argsz }));
    const r = p.ioctl(container, N.VFIO_IOMMU_GET_INFO, ARENA);
    return { r, argsz: vfioIommuType1Info.decode(p.memory.read(ARENA, vfioIommuType1Info.size)).argsz };
  };
  const t1 = now();
  const first = query(vfioIommuType1Info.size); // learn argsz
  const second = query(first.argsz);
  const ms = now() - t1;
  if (second.r.errno) throw new Error(`GET_INFO: ${second.r.errno}`);
  return { ms, bytes: second.argsz, setup };
}

export const bench: Bench = ({ quick, log }) => {
  const devices = quick ? 100 : 1000;
  // A fresh host per run: DMA ownership of the groups is per host.
  const host = syntheticHost(devices, 10);
  const regions = host.devices.reduce((n, d) => n + d.reservedRegions.length, 0);
  const best = <T extends { ms: number }>(f: () => T, reps: number): T => {
    let b: T | undefined;
    for (let i = 0; i < reps; i++) {
      const r = f();
      if (!b || r.ms < b.ms) b = r;
    }
    return b!;
  };
  const ir = best(() => iovaRanges(syntheticHost(devices, 10), devices), 3);
  log(
    `iova_ranges ${devices} devices, ${regions} regions: ${ir.ms.toFixed(2)} ms (${ir.ranges} ranges; set-up ${ir.setup.toFixed(0)} ms)`,
  );
  const gi = best(() => getInfo(syntheticHost(devices, 10), devices), 3);
  log(
    `get_info ${devices} groups, ${regions} regions: ${gi.ms.toFixed(2)} ms (argsz ${gi.bytes}; set-up ${gi.setup.toFixed(0)} ms)`,
  );
  return [
    {
      workload: "iova_ranges",
      impl: "ioas-iommufd-uapi",
      n: devices,
      ops_per_s: Math.round(1e3 / ir.ms),
      ns_per_op: Math.round(ir.ms * 1e6),
      note: `${ir.ms.toFixed(2)} ms, ${regions} regions → ${ir.ranges} ranges; attach set-up ${ir.setup.toFixed(0)} ms`,
    },
    {
      workload: "get_info",
      impl: "ioas-type1-uapi",
      n: devices,
      ops_per_s: Math.round(1e3 / gi.ms),
      ns_per_op: Math.round(gi.ms * 1e6),
      note: `${gi.ms.toFixed(2)} ms, ${regions} regions, argsz ${gi.bytes}; attach set-up ${gi.setup.toFixed(0)} ms`,
    },
  ];
};
