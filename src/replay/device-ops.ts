/**
 * Device-fd records that go through pread/pwrite on the VFIO device fd (FORMAT.md §4.4, §5):
 * `config_write` (PCI_COMMAND |= MEMORY|MASTER, then the edu id register) and `EDU_DMA` (program
 * the edu's DMA registers in BAR0, poll the run bit every 10 ms up to 400 times, wait 100 ms more,
 * collect the fault lines of the kernel log).
 */

import { IoasError, type ErrnoName } from "../core/errno.js";
import type { OpenFile } from "../uapi/file.js";
import type { Kernel } from "../uapi/system.js";
import { hx, strIn, u64In, type JsonObject } from "./records.js";

export const PCI_COMMAND_OFFSET = 4n;
export const EDU_REG_ID = 0x00n;
export const EDU_REG_DMA_SRC = 0x80n;
export const EDU_REG_DMA_DST = 0x88n;
export const EDU_REG_DMA_COUNT = 0x90n;
export const EDU_REG_DMA_CMD = 0x98n;
export const EDU_BUFFER_ADDR = 0x40000n;
const EDU_CMD_RUN = 1;
const EDU_CMD_TO_RAM = 2;
const POLL_INTERVAL_MS = 10;
const POLL_LIMIT = 400;
const FAULT_LOG_WAIT_MS = 100;

export interface DeviceResult {
  readonly ret: number;
  readonly errno: ErrnoName | null;
  readonly out: JsonObject;
}

function le(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

function leBytes(v: bigint, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** Whether a device file can run pread/pwrite records. */
export function supportsRegionIo(file: OpenFile): boolean {
  return typeof file.pread === "function" && typeof file.pwrite === "function";
}

function io(file: OpenFile): {
  read(off: bigint, n: number): bigint;
  write(off: bigint, v: bigint, n: number): void;
} {
  const pread = file.pread!.bind(file);
  const pwrite = file.pwrite!.bind(file);
  return {
    read: (off, n) => le(pread(off, n)),
    write: (off, v, n) => pwrite(off, leBytes(v, n)),
  };
}

/** `config_write`: read PCI_COMMAND, OR in MEMORY|MASTER, write, read back; then the edu id. */
export function configWrite(file: OpenFile, configOffset: bigint, bar0Offset: bigint): DeviceResult {
  const d = io(file);
  try {
    const before = d.read(configOffset + PCI_COMMAND_OFFSET, 2);
    d.write(configOffset + PCI_COMMAND_OFFSET, before | 0x6n, 2);
    const after = d.read(configOffset + PCI_COMMAND_OFFSET, 2);
    const id = d.read(bar0Offset + EDU_REG_ID, 4);
    return { ret: 0, errno: null, out: { before: hx(before), after: hx(after), edu_id_reg: hx(id) } };
  } catch (e) {
    if (e instanceof IoasError) return { ret: -1, errno: e.errno, out: {} };
    throw e;
  }
}

/** The kernel log lines EDU_DMA reports: DMAR/DMA/fault lines, never virtio_iommu's. */
export function isFaultLine(line: string): boolean {
  return /DMAR|DMA |fault/.test(line) && !line.includes("virtio_iommu");
}

/** `EDU_DMA`: one transfer of `count` bytes between edu buffer offset 0 and `iova`. */
export function eduDma(kernel: Kernel, file: OpenFile, bar0Offset: bigint, input: JsonObject): DeviceResult {
  const d = io(file);
  const direction = strIn(input, "direction");
  const toRam = direction === "device_writes_memory";
  if (!toRam && direction !== "device_reads_memory")
    throw new Error(`unknown EDU_DMA direction ${direction}`);
  const iova = u64In(input, "iova") & 0xffff_ffffn; // only the low 32 bits are written
  const count = u64In(input, "count");
  const mark = kernel.kmsg.mark();
  let status: "completed" | "timeout" | "mmio_error" = "timeout";
  let errno: ErrnoName | null = null;
  try {
    d.write(bar0Offset + EDU_REG_DMA_SRC, toRam ? EDU_BUFFER_ADDR : iova, 4);
    d.write(bar0Offset + EDU_REG_DMA_DST, toRam ? iova : EDU_BUFFER_ADDR, 4);
    d.write(bar0Offset + EDU_REG_DMA_COUNT, count, 4);
    d.write(bar0Offset + EDU_REG_DMA_CMD, BigInt(EDU_CMD_RUN | (toRam ? EDU_CMD_TO_RAM : 0)), 4);
    for (let i = 0; i < POLL_LIMIT; i++) {
      kernel.advance(POLL_INTERVAL_MS);
      if ((d.read(bar0Offset + EDU_REG_DMA_CMD, 4) & BigInt(EDU_CMD_RUN)) === 0n) {
        status = "completed";
        break;
      }
    }
  } catch (e) {
    if (!(e instanceof IoasError)) throw e;
    status = "mmio_error";
    errno = e.errno;
  }
  kernel.advance(FAULT_LOG_WAIT_MS);
  const kmsg = kernel.kmsg.since(mark).filter(isFaultLine);
  if (status === "completed") return { ret: 0, errno: null, out: { status, kmsg } };
  return { ret: -1, errno: errno ?? "ETIMEDOUT", out: { status, kmsg } };
}
