/**
 * How a device model issues DMA: through whatever domain its function is attached to right now,
 * with faults and interrupts reported to the host's kernel log. Built by whoever owns the device's
 * attachment state (VFIO group/container, iommufd HWPT).
 */

import type { IommuDomain } from "../domain.js";
import { deviceRead, deviceWrite, type DmaOutcome } from "../dma/engine.js";

export interface DmaPort {
  read(iova: bigint, length: number): Uint8Array;
  write(iova: bigint, data: Uint8Array): void;
}

export interface DmaObserver {
  (outcome: DmaOutcome & { direction: "read" | "write"; iova: bigint; length: number }): void;
}

/**
 * A port for device `bdf`. `domainOf` answers the domain the device is attached to at the moment of
 * the access (null: blocked); `busMaster` says whether the function may issue DMA at all.
 */
export function dmaPort(
  bdf: string,
  domainOf: () => IommuDomain | null,
  busMaster: () => boolean,
  observe: DmaObserver,
): DmaPort {
  return {
    read(iova, length) {
      if (!busMaster()) return new Uint8Array(length);
      const out = deviceRead(domainOf(), bdf, iova, length);
      observe({ ...out, direction: "read", iova, length });
      return out.data;
    },
    write(iova, data) {
      if (!busMaster()) return;
      const out = deviceWrite(domainOf(), bdf, iova, data);
      observe({ ...out, direction: "write", iova, length: data.length });
    },
  };
}
