/**
 * Writes a fake Linux root (sysfs, procfs, /dev entries) describing a `Host`, laid out as the
 * kernel lays it out: devices under /sys/devices/pci0000:00, relative symlinks from the bus, class
 * and group directories, reserved regions printed `0x%016llx 0x%016llx %s`.
 */

import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import type { Host, ReservedRegion } from "../../src/core/topology/types.js";

function write(root: string, path: string, text: string): void {
  const full = join(root, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, text);
}

function link(root: string, from: string, to: string): void {
  const full = join(root, from);
  mkdirSync(dirname(full), { recursive: true });
  symlinkSync(relative(dirname(full), join(root, to)), full);
}

const hex16 = (v: bigint) => "0x" + v.toString(16).padStart(16, "0");
const hexId = (v: number, width: number) => "0x" + v.toString(16).padStart(width, "0");

/** sysfs prints SW_MSI as `msi`. */
function regionLine(r: ReservedRegion): string {
  return `${hex16(r.start)} ${hex16(r.last)} ${r.type === "sw-msi" ? "msi" : r.type}\n`;
}

export function writeFakeSysfs(host: Host, root = mkdtempSync(join(tmpdir(), "ioas-sysfs-"))): string {
  const p = host.params;
  write(root, "proc/sys/kernel/osrelease", p.kernelRelease + "\n");
  const pciDir = (bdf: string) => `sys/devices/pci${bdf.slice(0, 4)}:${bdf.slice(5, 7)}/${bdf}`;
  for (const d of host.devices) {
    const dir = pciDir(d.bdf);
    write(root, `${dir}/vendor`, hexId(d.vendor, 4) + "\n");
    write(root, `${dir}/device`, hexId(d.device, 4) + "\n");
    write(root, `${dir}/class`, hexId(d.class, 6) + "\n");
    if (d.driver) link(root, `${dir}/driver`, `sys/bus/pci/drivers/${d.driver}`);
    if (d.group !== null) link(root, `${dir}/iommu_group`, `sys/kernel/iommu_groups/${d.group}`);
    if (d.cdev) mkdirSync(join(root, dir, "vfio-dev", d.cdev.split("/").pop()!), { recursive: true });
    link(root, `sys/bus/pci/devices/${d.bdf}`, dir);
  }
  for (const g of host.groups) {
    const dir = `sys/kernel/iommu_groups/${g.id}`;
    write(root, `${dir}/type`, g.type + "\n");
    write(root, `${dir}/reserved_regions`, g.reservedRegions.map(regionLine).join(""));
    mkdirSync(join(root, dir, "devices"), { recursive: true });
    for (const bdf of g.devices) link(root, `${dir}/devices/${bdf}`, pciDir(bdf));
  }
  host.iommus.forEach((u, i) => {
    const dir = `sys/devices/virtual/iommu/${u.name}`;
    mkdirSync(join(root, dir, "devices"), { recursive: true });
    if (u.vtd) {
      write(root, `${dir}/intel-iommu/cap`, u.vtd.capReg.toString(16) + "\n");
      write(root, `${dir}/intel-iommu/ecap`, u.vtd.ecapReg.toString(16) + "\n");
    }
    if (u.kind === "amd-vi") mkdirSync(join(root, dir, "amd-iommu"), { recursive: true });
    if (u.kind === "virtio-iommu") {
      const vdir = `${pciDir(u.name)}/virtio${i}`;
      write(root, `${vdir}/device`, "0x0017\n");
      write(root, `${vdir}/vendor`, "0x1af4\n");
      link(root, `sys/bus/virtio/devices/virtio${i}`, vdir);
    }
    for (const d of host.devices.filter((x) => x.iommu === u.name)) {
      link(root, `${dir}/devices/${d.bdf}`, pciDir(d.bdf));
    }
    link(root, `sys/class/iommu/${u.name}`, dir);
  });
  const mod = (m: string, n: string, v: string) => write(root, `sys/module/${m}/parameters/${n}`, v + "\n");
  mod("vfio_iommu_type1", "dma_entry_limit", String(p.type1.dmaEntryLimit));
  mod("vfio_iommu_type1", "allow_unsafe_interrupts", p.type1.allowUnsafeInterrupts ? "Y" : "N");
  mod("vfio_iommu_type1", "disable_hugepages", p.type1.disableHugepages ? "Y" : "N");
  if (p.iommufd) {
    mod("iommufd", "allow_unsafe_interrupts", p.iommufd.allowUnsafeInterrupts ? "Y" : "N");
    write(root, "dev/iommu", "");
  }
  if (p.noiommu) mod("vfio", "enable_unsafe_noiommu_mode", "N");
  if (p.thpSize !== p.pageSize)
    write(root, "sys/kernel/mm/transparent_hugepage/hpage_pmd_size", `${p.thpSize}\n`);
  if (p.vfioDeviceCdev) {
    mkdirSync(join(root, "dev/vfio/devices"), { recursive: true });
    for (const d of host.devices) if (d.cdev) write(root, d.cdev.slice(1), "");
  }
  return root;
}
