/**
 * A PCI function as VFIO exposes it: config space and regions, with a device model behind the BARs.
 *
 * vfio-pci presents 9 regions (BAR0–5, ROM, config, VGA) at fixed file offsets (index << 40) and 5
 * IRQ indexes (INTx, MSI, MSI-X, ERR, REQ); the device fd's GET_INFO, GET_REGION_INFO, pread and
 * pwrite all read this model.
 */

export const VFIO_PCI_NUM_REGIONS = 9;
export const VFIO_PCI_NUM_IRQS = 5;
export const VFIO_PCI_CONFIG_REGION_INDEX = 7;
export const VFIO_DEVICE_FLAGS_PCI = 0x2;
export const REGION_FLAG_READ = 0x1;
export const REGION_FLAG_WRITE = 0x2;
export const REGION_FLAG_MMAP = 0x4;

/** File offset of a region (VFIO_PCI_INDEX_TO_OFFSET). */
export function regionOffset(index: number): bigint {
  return BigInt(index) << 40n;
}

export interface RegionInfo {
  readonly index: number;
  readonly flags: number;
  readonly size: bigint;
  readonly offset: bigint;
}

/** What a concrete device implements behind its BARs. */
export interface BarHandler {
  /** Size in bytes of each BAR (0 = not implemented), BAR0..BAR5. */
  readonly barSizes: readonly bigint[];
  barRead(bar: number, offset: bigint, length: number): Uint8Array;
  barWrite(bar: number, offset: bigint, data: Uint8Array): void;
}

const PCI_COMMAND = 0x04;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;

export class PciFunction {
  readonly bdf: string;
  readonly config = new Uint8Array(256);
  readonly bars: BarHandler | null;

  constructor(bdf: string, vendor: number, device: number, classCode: number, bars: BarHandler | null) {
    this.bdf = bdf;
    this.bars = bars;
    const dv = new DataView(this.config.buffer);
    dv.setUint16(0x00, vendor, true);
    dv.setUint16(0x02, device, true);
    // After firmware and the host kernel: I/O and memory decoding on, SERR# enabled, no bus master.
    dv.setUint16(PCI_COMMAND, 0x0103, true);
    dv.setUint8(0x09, classCode & 0xff);
    dv.setUint8(0x0a, (classCode >> 8) & 0xff);
    dv.setUint8(0x0b, (classCode >> 16) & 0xff);
  }

  get command(): number {
    return new DataView(this.config.buffer).getUint16(PCI_COMMAND, true);
  }

  /** Bus mastering is enabled: the device may issue DMA. */
  get busMaster(): boolean {
    return (this.command & PCI_COMMAND_MASTER) !== 0;
  }

  regionInfo(index: number): RegionInfo | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= VFIO_PCI_NUM_REGIONS) return undefined;
    const offset = regionOffset(index);
    if (index === VFIO_PCI_CONFIG_REGION_INDEX) {
      return { index, flags: REGION_FLAG_READ | REGION_FLAG_WRITE, size: 256n, offset };
    }
    const size = index < 6 ? (this.bars?.barSizes[index] ?? 0n) : 0n;
    const flags = size > 0n ? REGION_FLAG_READ | REGION_FLAG_WRITE | REGION_FLAG_MMAP : 0;
    return { index, flags, size, offset };
  }

  /** pread on the device fd. Undefined when the offset is outside every region. */
  read(fileOffset: bigint, length: number): Uint8Array | undefined {
    const { index, offset } = split(fileOffset);
    const info = this.regionInfo(index);
    if (!info || info.size === 0n || offset + BigInt(length) > info.size) return undefined;
    if (index === VFIO_PCI_CONFIG_REGION_INDEX)
      return this.config.slice(Number(offset), Number(offset) + length);
    return this.bars!.barRead(index, offset, length);
  }

  /** pwrite on the device fd; false when the offset is outside every region. */
  write(fileOffset: bigint, data: Uint8Array): boolean {
    const { index, offset } = split(fileOffset);
    const info = this.regionInfo(index);
    if (!info || info.size === 0n || offset + BigInt(data.length) > info.size) return false;
    if (index === VFIO_PCI_CONFIG_REGION_INDEX) {
      // Only the command register is writable in this model; the identity fields are read-only.
      for (let i = 0; i < data.length; i++) {
        const at = Number(offset) + i;
        if (at === PCI_COMMAND || at === PCI_COMMAND + 1) this.config[at] = data[i]!;
      }
      return true;
    }
    this.bars!.barWrite(index, offset, data);
    return true;
  }
}

function split(fileOffset: bigint): { index: number; offset: bigint } {
  return { index: Number(fileOffset >> 40n), offset: fileOffset & ((1n << 40n) - 1n) };
}
