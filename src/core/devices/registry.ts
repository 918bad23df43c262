/**
 * The device models of a host: one vfio-pci function per PCI device, with a behaviour model behind
 * its BARs where we have one (QEMU's edu), and DMA translated through whatever domain the device's
 * owner (type1 container or iommufd HWPT) has attached it to at the moment of the access.
 *
 * `dma(bdf)` is the typed DMA entry point (a device reads or writes bytes at an IOVA, whatever its
 * model); every fault and MSI it causes is recorded here and logged to the kernel log as the
 * device's IOMMU would print it.
 */

import type { IommuDomain } from "../domain.js";
import {
  deviceRead,
  deviceWrite,
  type DmaOutcome,
  type DmaReadOutcome,
  type MsiRecord,
} from "../dma/engine.js";
import type { DmaFault } from "../dma/fault.js";
import { createFaultReporter, type FaultReporter } from "../dma/fault-report.js";
import type { KernelLog } from "../kmsg.js";
import type { Host } from "../topology/types.js";
import type { DmaPort } from "./dma-port.js";
import { EduDevice } from "./edu.js";
import { PciFunction } from "./pci-function.js";

/** Answers, at the moment of an access, which domain a device's DMA goes through (null: blocked). */
export type DomainResolver = (bdf: string) => IommuDomain | null;

export interface DeviceDma {
  read(iova: bigint, length: number): DmaReadOutcome;
  write(iova: bigint, data: Uint8Array): DmaOutcome;
}

export interface DeviceModels {
  function(bdf: string): PciFunction | undefined;
  /** DMA as device `bdf` (undefined for an unknown device). Ignores bus mastering. */
  dma(bdf: string): DeviceDma | undefined;
  /** The domain device `bdf` is attached to right now (null: blocked / not attached). */
  domainOf(bdf: string): IommuDomain | null;
  /** Faults recorded so far, oldest first (the newest 4096). */
  readonly faults: readonly DmaFault[];
  /** Interrupt requests (MSI writes) recorded so far, oldest first (the newest 4096). */
  readonly interrupts: readonly MsiRecord[];
  /** Set by the subsystems that attach devices; consulted on every DMA. */
  addResolver(resolver: DomainResolver): void;
  /** The kernel's fault-log state (rate limits), for state save/restore. */
  readonly faultReporter: FaultReporter;
}

const RECORD_LIMIT = 4096;

function pushBounded<T>(list: T[], items: readonly T[]): void {
  list.push(...items);
  if (list.length > RECORD_LIMIT) list.splice(0, list.length - RECORD_LIMIT);
}

export interface DeviceModelOptions {
  /** Virtual time in ms (fault-log rate limits); default: always 0. */
  readonly now?: () => number;
  /** Run `fn` after `delayMs` of virtual time (device timers); default: at once. */
  readonly schedule?: (delayMs: number, fn: () => void) => void;
}

export function createDeviceModels(host: Host, kmsg: KernelLog, opts: DeviceModelOptions = {}): DeviceModels {
  const now = opts.now ?? (() => 0);
  const reporter = createFaultReporter();
  const resolvers: DomainResolver[] = [];
  const functions = new Map<string, PciFunction>();
  const dmas = new Map<string, DeviceDma>();
  const faults: DmaFault[] = [];
  const interrupts: MsiRecord[] = [];
  const units = new Map(host.iommus.map((u) => [u.name, u]));

  const domainOf = (bdf: string): IommuDomain | null => {
    for (const r of resolvers) {
      const d = r(bdf);
      if (d) return d;
    }
    return null;
  };

  for (const dev of host.devices) {
    const unit = dev.iommu ? units.get(dev.iommu) : undefined;
    const record = <T extends DmaOutcome>(out: T): T => {
      pushBounded(faults, out.faults);
      pushBounded(interrupts, out.interrupts);
      reporter.report(unit, out.faults, now(), (line) => kmsg.log(line));
      return out;
    };
    const dma: DeviceDma = {
      read: (iova, length) => record(deviceRead(domainOf(dev.bdf), dev.bdf, iova, length)),
      write: (iova, data) => record(deviceWrite(domainOf(dev.bdf), dev.bdf, iova, data)),
    };
    dmas.set(dev.bdf, dma);
    let fn: PciFunction | undefined = undefined;
    // A device model's bus-master-gated view of the same DMA.
    const port: DmaPort = {
      read: (iova, length) => (fn?.busMaster ? dma.read(iova, length).data : new Uint8Array(length)),
      write: (iova, data) => {
        if (fn?.busMaster) dma.write(iova, data);
      },
    };
    const isEdu = dev.vendor === 0x1234 && dev.device === 0x11e8;
    fn = new PciFunction(
      dev.bdf,
      dev.vendor,
      dev.device,
      dev.class,
      isEdu ? new EduDevice(port, opts.schedule) : null,
    );
    functions.set(dev.bdf, fn);
  }

  return {
    function: (bdf) => functions.get(bdf),
    dma: (bdf) => dmas.get(bdf),
    domainOf,
    faults,
    interrupts,
    addResolver: (r) => void resolvers.push(r),
    faultReporter: reporter,
  };
}
