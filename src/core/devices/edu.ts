/**
 * QEMU's `edu` teaching device (1234:11e8): a 4 KiB DMA buffer at 0x40000 in its own address space
 * and registers in BAR0 (1 MiB) to copy between that buffer and an IOVA.
 *
 * BAR0: 0x00 identification (0x010000ed), 0x04 liveness (reads back the complement), 0x80 DMA
 * source, 0x88 DMA destination, 0x90 count, 0x98 command (bit 0 run, bit 1 direction: 1 = buffer →
 * RAM, bit 2 raise an interrupt). The RAM-side address is masked to 28 bits before the access.
 * QEMU runs the transfer from a 100 ms timer; so does the model when given a scheduler (virtual
 * time), else it runs the transfer as the command is written.
 */

import type { DmaPort } from "./dma-port.js";
import type { BarHandler } from "./pci-function.js";

export const EDU_ID = 0x010000ed;
const EDU_BUFFER_BASE = 0x40000n;
const EDU_BUFFER_SIZE = 0x1000n;
const EDU_DMA_MASK = (1n << 28n) - 1n;
/** QEMU's edu starts a transfer 100 ms (virtual) after the command. */
const EDU_DMA_DELAY_MS = 100;

export class EduDevice implements BarHandler {
  readonly barSizes = [0x100000n, 0n, 0n, 0n, 0n, 0n];
  readonly buffer = new Uint8Array(Number(EDU_BUFFER_SIZE));
  private readonly regs = new Map<number, bigint>();
  private liveness = 0;
  private readonly dma: DmaPort;
  /** Transfers refused because the buffer side left [0x40000, 0x41000) (QEMU aborts the VM there). */
  outOfRange = 0;

  private readonly schedule: (delayMs: number, fn: () => void) => void;
  /** The transfer timer's callback: one function per device, so a saved state can name a pending timer. */
  readonly dmaTimer = (): void => this.runDma();

  constructor(dma: DmaPort, schedule?: (delayMs: number, fn: () => void) => void) {
    this.dma = dma;
    this.schedule = schedule ?? ((_ms, fn) => fn());
  }

  barRead(_bar: number, offset: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    const dv = new DataView(out.buffer);
    const reg = Number(offset);
    let value: bigint;
    if (reg === 0x00) value = BigInt(EDU_ID);
    else if (reg === 0x04) value = BigInt(~this.liveness >>> 0);
    else value = this.regs.get(reg & ~0x7) ?? 0n;
    if (reg >= 0x80 && reg % 8 === 4) value >>= 32n;
    if (length >= 8) dv.setBigUint64(0, value & 0xffff_ffff_ffff_ffffn, true);
    else if (length >= 4) dv.setUint32(0, Number(value & 0xffff_ffffn), true);
    return out;
  }

  barWrite(_bar: number, offset: bigint, data: Uint8Array): void {
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const reg = Number(offset);
    const value = data.length >= 8 ? dv.getBigUint64(0, true) : BigInt(dv.getUint32(0, true));
    if (reg === 0x04) {
      this.liveness = Number(value & 0xffff_ffffn);
      return;
    }
    if (reg < 0x80 || reg > 0x9f) return;
    const base = reg & ~0x7;
    const old = this.regs.get(base) ?? 0n;
    const merged =
      reg % 8 === 4
        ? (old & 0xffff_ffffn) | (value << 32n)
        : data.length >= 8
          ? value
          : (old & ~0xffff_ffffn) | value;
    this.regs.set(base, merged);
    if (base === 0x98 && (merged & 1n) !== 0n) this.schedule(EDU_DMA_DELAY_MS, this.dmaTimer);
  }

  private runDma(): void {
    const src = this.regs.get(0x80) ?? 0n;
    const dst = this.regs.get(0x88) ?? 0n;
    const count = this.regs.get(0x90) ?? 0n;
    const cmd = this.regs.get(0x98) ?? 0n;
    const toRam = (cmd & 2n) !== 0n;
    const bufferAddr = toRam ? src : dst;
    if (
      bufferAddr < EDU_BUFFER_BASE ||
      bufferAddr + count >= EDU_BUFFER_BASE + EDU_BUFFER_SIZE + 1n ||
      count === 0n
    ) {
      this.outOfRange++;
    } else {
      const at = Number(bufferAddr - EDU_BUFFER_BASE);
      const n = Number(count);
      if (toRam) {
        this.dma.write(dst & EDU_DMA_MASK, this.buffer.slice(at, at + n));
      } else {
        const got = this.dma.read(src & EDU_DMA_MASK, n);
        this.buffer.set(got, at);
      }
    }
    this.regs.set(0x98, cmd & ~1n);
  }
}
