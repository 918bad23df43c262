/**
 * Reads a live Linux host's IOMMU topology from sysfs under a root directory, without root rights.
 *
 * Files read (all world-readable on a normal system):
 *   /sys/kernel/iommu_groups/<N>/{type,reserved_regions,devices/}
 *   /sys/bus/pci/devices/<bdf>/{vendor,device,class,driver@,iommu_group@,vfio-dev/}
 *   /sys/class/iommu/<unit>/{intel-iommu/cap,intel-iommu/ecap,amd-iommu/,devices/}
 *   /sys/bus/virtio/devices/<virtioN>/device (to recognise virtio-iommu units)
 *   /sys/module/{vfio_iommu_type1,iommufd,vfio}/parameters/*, /sys/kernel/mm/transparent_hugepage/
 *   /proc/sys/kernel/osrelease, /dev/vfio/devices/, /dev/iommu
 * Every failure is a `HostReadError` naming the file (and the line for multi-line files).
 */

import {
  existsSync,
  lstatSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  statSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Host } from "../core/topology/types.js";
import { HostReadError } from "./errors.js";
import {
  PARAM,
  hostFromFacts,
  parsePciId,
  parseRegionLine,
  type DeviceFacts,
  type GroupFacts,
  type SysfsFacts,
  type UnitFacts,
} from "./sysfs-facts.js";

const BDF = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
/** PCI id of a modern virtio-iommu device (0x1040 + VIRTIO_ID_IOMMU). */
const VIRTIO_IOMMU_PCI = { vendor: 0x1af4, device: 0x1057 };

function why(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "missing";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "is a directory, expected a file";
  if (code === "ENOTDIR") return "not a directory";
  return e instanceof Error ? e.message : String(e);
}

/** A sysfs text file: whole lines only (a missing final newline means it was cut short). */
function readText(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new HostReadError(path, why(e));
  }
  if (text.length > 0 && !text.endsWith("\n")) {
    const line = text.split("\n").length;
    throw new HostReadError(path, "truncated: last line has no newline", line);
  }
  return text;
}

/** A one-value sysfs attribute. */
function readValue(path: string): string {
  const text = readText(path);
  const lines = text.split("\n").slice(0, -1);
  if (lines.length === 0 || lines[0]!.trim() === "") throw new HostReadError(path, "empty (truncated?)", 1);
  if (lines.length > 1) throw new HostReadError(path, "expected a single line", 2);
  return lines[0]!.trim();
}

function readDir(path: string): string[] {
  try {
    return readdirSync(path).sort();
  } catch (e) {
    throw new HostReadError(path, why(e));
  }
}

function optionalDir(path: string): string[] | null {
  return existsSync(path) ? readDir(path) : null;
}

function linkName(path: string): string | null {
  try {
    lstatSync(path);
  } catch {
    return null;
  }
  try {
    return basename(readlinkSync(path));
  } catch (e) {
    throw new HostReadError(path, `not a readable symlink: ${why(e)}`);
  }
}

function readUnit(sys: string, name: string, pciVendor: (bdf: string) => [number, number] | null): UnitFacts {
  const dir = join(sys, "class/iommu", name);
  const devices = readDir(join(dir, "devices")).filter((d) => BDF.test(d));
  if (existsSync(join(dir, "intel-iommu"))) {
    const hex = (f: string): bigint => {
      const p = join(dir, "intel-iommu", f);
      const v = readValue(p);
      if (!/^(0x)?[0-9a-fA-F]{1,16}$/.test(v))
        throw new HostReadError(p, `expected a hex register, got ${JSON.stringify(v)}`, 1);
      return BigInt(v.startsWith("0x") ? v : "0x" + v);
    };
    return { name, kind: "intel-vtd", cap: hex("cap"), ecap: hex("ecap"), devices };
  }
  if (existsSync(join(dir, "amd-iommu"))) return { name, kind: "amd-vi", devices };
  if (/^smmu3\./.test(name)) return { name, kind: "arm-smmu-v3", devices };
  if (isVirtioIommu(sys, name, pciVendor)) return { name, kind: "virtio-iommu", devices };
  throw new HostReadError(dir, "unknown IOMMU kind (not VT-d, AMD-Vi, SMMUv3 or virtio-iommu)");
}

/** virtio-iommu registers its unit under its transport's name (the virtio-pci BDF). */
function isVirtioIommu(
  sys: string,
  name: string,
  pciVendor: (bdf: string) => [number, number] | null,
): boolean {
  const ids = BDF.test(name) ? pciVendor(name) : null;
  if (ids && ids[0] === VIRTIO_IOMMU_PCI.vendor && ids[1] === VIRTIO_IOMMU_PCI.device) return true;
  const bus = join(sys, "bus/virtio/devices");
  for (const v of optionalDir(bus) ?? []) {
    const id = join(bus, v, "device");
    if (!existsSync(id) || parsePciId(readValue(id), id, 1) !== 0x17) continue;
    try {
      if (basename(dirname(realpathSync(join(bus, v)))) === name) return true;
    } catch (e) {
      throw new HostReadError(join(bus, v), why(e));
    }
  }
  return false;
}

function readDevice(pci: string, bdf: string): DeviceFacts {
  const dir = join(pci, bdf);
  const group = linkName(join(dir, "iommu_group"));
  if (group !== null && !/^\d+$/.test(group))
    throw new HostReadError(join(dir, "iommu_group"), `bad group ${group}`);
  const vfioDev = optionalDir(join(dir, "vfio-dev"))?.find((n) => /^vfio\d+$/.test(n));
  const value = (f: string) => [readValue(join(dir, f)), join(dir, f)] as const;
  const [vendor, vendorFile] = value("vendor");
  const [device, deviceFile] = value("device");
  const [cls, classFile] = value("class");
  return {
    bdf,
    vendor: parsePciId(vendor, vendorFile, 1),
    device: parsePciId(device, deviceFile, 1),
    class: parsePciId(cls, classFile, 1, 0xffffff),
    driver: linkName(join(dir, "driver")),
    group: group === null ? null : Number(group),
    ...(vfioDev ? { cdev: `/dev/vfio/devices/${vfioDev}` } : {}),
  };
}

function readGroup(sys: string, id: string, notes: string[]): GroupFacts {
  const dir = join(sys, "kernel/iommu_groups", id);
  if (!/^\d+$/.test(id)) throw new HostReadError(dir, "unexpected entry: group directories are numbers");
  const file = join(dir, "reserved_regions");
  const regions = readText(file)
    .split("\n")
    .slice(0, -1)
    .map((line, i) => parseRegionLine(line, file, i + 1));
  const members = readDir(join(dir, "devices"));
  for (const m of members.filter((d) => !BDF.test(d)))
    notes.push(`group ${id}: non-PCI device ${m} not modelled`);
  return {
    id: Number(id),
    type: readValue(join(dir, "type")),
    regions,
    devices: members.filter((d) => BDF.test(d)),
  };
}

export function readSysfsFacts(root = "/"): SysfsFacts {
  try {
    if (!statSync(root).isDirectory()) throw new HostReadError(root, "not a directory");
  } catch (e) {
    if (e instanceof HostReadError) throw e;
    throw new HostReadError(root, why(e));
  }
  const sys = join(root, "sys");
  if (!existsSync(sys)) throw new HostReadError(sys, "missing: not a Linux root (no sysfs)");
  const notes: string[] = [];
  const pci = join(sys, "bus/pci/devices");
  const devices = (optionalDir(pci) ?? []).filter((d) => BDF.test(d)).map((bdf) => readDevice(pci, bdf));
  const pciIds = (bdf: string): [number, number] | null => {
    const d = devices.find((x) => x.bdf === bdf);
    return d ? [d.vendor, d.device] : null;
  };
  const units = (optionalDir(join(sys, "class/iommu")) ?? []).map((n) => readUnit(sys, n, pciIds));
  const groups = (optionalDir(join(sys, "kernel/iommu_groups")) ?? []).map((id) => readGroup(sys, id, notes));
  for (const g of groups) {
    for (const bdf of g.devices) {
      const d = devices.find((x) => x.bdf === bdf);
      const where = join(sys, "kernel/iommu_groups", String(g.id), "devices", bdf);
      if (!d) throw new HostReadError(where, `no ${join(pci, bdf)} for this group member`);
      if (d.group !== g.id) throw new HostReadError(where, `device's iommu_group link says ${d.group}`);
    }
  }
  const params: SysfsFacts["params"] = new Map();
  for (const path of Object.values(PARAM)) {
    const file = join(root, path);
    if (existsSync(file)) params.set(path, { value: readValue(file), file, line: 1 });
  }
  const osrelease = join(root, "proc/sys/kernel/osrelease");
  const thp = join(sys, "kernel/mm/transparent_hugepage/hpage_pmd_size");
  const thpValue = existsSync(thp) ? readValue(thp) : null;
  if (thpValue !== null && !/^\d+$/.test(thpValue))
    throw new HostReadError(thp, `expected bytes, got ${thpValue}`, 1);
  const cdevs = optionalDir(join(root, "dev/vfio/devices"));
  return {
    name: `sysfs ${root}`,
    notes,
    kernelRelease: existsSync(osrelease) ? readValue(osrelease) : null,
    units,
    groups,
    devices,
    params,
    vfioDevicesDir: cdevs !== null,
    cdevNames: cdevs ?? [],
    devIommu: existsSync(join(root, "dev/iommu")),
    thpSize: thpValue === null ? null : BigInt(thpValue),
  };
}

/** The host under `root` (default "/"). Throws `HostReadError` for anything unreadable or malformed. */
export function readSysfsHost(root = "/"): Host {
  return hostFromFacts(readSysfsFacts(root));
}
