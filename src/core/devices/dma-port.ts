/**
 * How a device model issues DMA: bytes in, bytes out. The host's device registry (registry.ts)
 * builds one per device, translating through the device's current domain and recording faults.
 */

export interface DmaPort {
  read(iova: bigint, length: number): Uint8Array;
  write(iova: bigint, data: Uint8Array): void;
}
