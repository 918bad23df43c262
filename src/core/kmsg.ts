/**
 * The kernel log (dmesg) of the simulated host: IOMMU fault reports and driver warnings land here,
 * with a sequence number so a caller can read "everything logged since".
 */

export interface KmsgLine {
  readonly seq: number;
  readonly text: string;
}

export class KernelLog {
  private readonly lines: KmsgLine[] = [];
  private next = 0;

  log(text: string): void {
    this.lines.push({ seq: this.next++, text });
    // dmesg is a ring buffer; keep the newest lines only.
    if (this.lines.length > 4096) this.lines.splice(0, this.lines.length - 4096);
  }

  /** Sequence number the next line will get: pass it to `since` later. */
  mark(): number {
    return this.next;
  }

  since(mark: number): string[] {
    return this.lines.filter((l) => l.seq >= mark).map((l) => l.text);
  }
}
