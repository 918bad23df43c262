/**
 * The device models of a host: one vfio-pci function per PCI device, with a behaviour model behind
 * its BARs where we have one (QEMU's edu), and a DMA port translating through whatever domain the
 * device's owner (type1 container or iommufd HWPT) has attached it to.
 */

import type { IommuDomain } from "../domain.js";
import { faultLogLines } from "../dma/fault.js";
import type { KernelLog } from "../kmsg.js";
import type { Host, IommuKind } from "../topology/types.js";
import { dmaPort } from "./dma-port.js";
import { EduDevice } from "./edu.js";
import { PciFunction } from "./pci-function.js";

/** Answers, at the moment of an access, which domain a device's DMA goes through (null: blocked). */
export type DomainResolver = (bdf: string) => IommuDomain | null;

export interface DeviceModels {
  function(bdf: string): PciFunction | undefined;
  /** Set by the subsystems that attach devices; consulted on every DMA. */
  addResolver(resolver: DomainResolver): void;
}

export function createDeviceModels(host: Host, kmsg: KernelLog): DeviceModels {
  const resolvers: DomainResolver[] = [];
  const functions = new Map<string, PciFunction>();
  const unitKind = new Map<string, IommuKind>(host.iommus.map((u) => [u.name, u.kind]));

  const domainOf = (bdf: string): IommuDomain | null => {
    for (const r of resolvers) {
      const d = r(bdf);
      if (d) return d;
    }
    return null;
  };

  for (const dev of host.devices) {
    const kind = (dev.iommu && unitKind.get(dev.iommu)) || "none";
    let fn: PciFunction | undefined = undefined;
    const port = dmaPort(
      dev.bdf,
      () => domainOf(dev.bdf),
      () => fn?.busMaster ?? false,
      (o) => {
        for (const line of faultLogLines(kind, o.faults)) kmsg.log(line);
      },
    );
    const isEdu = dev.vendor === 0x1234 && dev.device === 0x11e8;
    fn = new PciFunction(dev.bdf, dev.vendor, dev.device, dev.class, isEdu ? new EduDevice(port) : null);
    functions.set(dev.bdf, fn);
  }

  return {
    function: (bdf) => functions.get(bdf),
    addResolver: (r) => void resolvers.push(r),
  };
}
