/**
 * How a host's IOMMU drivers report DMA faults in the kernel log, including the state that makes the
 * log differ from the list of faults: VT-d's fault recording registers and printk rate limiting.
 *
 * VT-d (the DMAR fault interrupt):
 *   - The unit has NFR fault recording registers (cap bits 47:40, plus one). One DMA transaction's
 *     faults fill them in order; a fault finding them full only sets Primary Fault Overflow (PFO).
 *   - The handler shares one rate limit across all units (burst 10 per 5 s). It asks it once for the
 *     "handling fault status reg" line, once per loop iteration over the records — including the
 *     final iteration that finds no record and stops — and prints a record only when allowed. So a
 *     single-fault interrupt costs three tokens, and the fourth such interrupt in a window prints its
 *     status line but not its record.
 *   - When a new window starts with suppressed calls, "dmar_fault: N callbacks suppressed" is logged.
 */

import type { IommuKind, IommuUnit } from "../topology/types.js";
import { faultLogLines, type DmaFault } from "./fault.js";

const DMA_FSTS_PFO = 1 << 0;
const DMA_FSTS_PPF = 1 << 1;

/** The kernel's `struct ratelimit_state` with DEFAULT_RATELIMIT_INTERVAL / _BURST. */
export class RateLimit {
  private begin: number | undefined;
  private printed = 0;
  private missed = 0;

  constructor(
    private readonly intervalMs = 5000,
    private readonly burst = 10,
  ) {}

  /** `__ratelimit`: may the caller print now? `onRelease` receives the suppressed-callbacks note. */
  allow(nowMs: number, func: string, log: (line: string) => void): boolean {
    if (this.begin === undefined) this.begin = nowMs;
    if (nowMs > this.begin + this.intervalMs) {
      if (this.missed > 0) {
        log(`${func}: ${this.missed} callbacks suppressed`);
        this.missed = 0;
      }
      this.begin = nowMs;
      this.printed = 0;
    }
    if (this.burst > this.printed) {
      this.printed++;
      return true;
    }
    this.missed++;
    return false;
  }
}

/** Number of VT-d fault recording registers: cap.NFR (bits 47:40) + 1. */
export function vtdFaultRecords(unit: IommuUnit): number {
  if (!unit.vtd) return 1;
  return Number((unit.vtd.capReg >> 40n) & 0xffn) + 1;
}

export interface FaultReporter {
  /** VT-d's global dmar_fault rate limit (state save/restore). */
  readonly dmarLimit: RateLimit;
  /** Report the faults of one DMA transaction by a device behind `unit` at virtual time `nowMs`. */
  report(
    unit: IommuUnit | undefined,
    faults: readonly DmaFault[],
    nowMs: number,
    log: (line: string) => void,
  ): void;
}

/** One reporter per kernel: VT-d's dmar_fault state is global, other drivers are stateless. */
export function createFaultReporter(): FaultReporter {
  const dmarLimit = new RateLimit();
  return {
    dmarLimit,
    report(unit, faults, nowMs, log) {
      if (faults.length === 0) return;
      const kind: IommuKind = unit?.kind ?? "none";
      if (kind !== "intel-vtd" || !unit) {
        for (const line of faultLogLines(kind, faults)) log(line);
        return;
      }
      const recorded = faults.slice(0, vtdFaultRecords(unit));
      const status = DMA_FSTS_PPF | (faults.length > recorded.length ? DMA_FSTS_PFO : 0);
      const [statusLine, ...recordLines] = faultLogLines("intel-vtd", recorded);
      if (dmarLimit.allow(nowMs, "dmar_fault", log)) {
        log(statusLine!.replace(/reg \w+$/, `reg ${status.toString(16)}`));
      }
      for (const line of recordLines) {
        if (dmarLimit.allow(nowMs, "dmar_fault", log)) log(line);
      }
      dmarLimit.allow(nowMs, "dmar_fault", log); // the iteration that finds no further record
    },
  };
}
