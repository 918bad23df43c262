/**
 * Replay reports: one line per mismatch (`seq N section/case op: field want X got Y`), then the
 * count line `N passed, N failed` (`, N skipped` when any; `, N known` when a gap manifest was
 * applied). A JSON form carries the same facts.
 */

import { formatValue } from "./compare.js";
import type { RecordResult } from "./executor.js";
import type { GapResult, GapSummary } from "./gaps.js";

function where(r: RecordResult): string {
  return `seq ${r.seq} ${r.section}/${r.case} ${r.op}`;
}

/** The lines describing one failed record. */
export function failureLines(r: RecordResult): string[] {
  if (r.reason !== undefined && r.mismatches.length === 0) return [`${where(r)}: ${r.reason}`];
  return r.mismatches.map(
    (m) => `${where(r)}: ${m.field} want ${formatValue(m.want)} got ${formatValue(m.got)}`,
  );
}

function isReported(r: GapResult): boolean {
  return r.gapStatus === "fail" || r.gapStatus === "unexpected-pass";
}

export function countLine(s: {
  passed: number;
  failed: number;
  skipped: number;
  known?: number;
  gapsApplied?: boolean;
}): string {
  let line = `${s.passed} passed, ${s.failed} failed`;
  if (s.skipped > 0) line += `, ${s.skipped} skipped`;
  if (s.gapsApplied) line += `, ${s.known ?? 0} known`;
  return line;
}

/** The text report of one replay. */
export function textReport(summary: GapSummary, gapsApplied: boolean): string {
  const lines: string[] = [];
  for (const r of summary.results) {
    if (!isReported(r)) continue;
    if (r.gapStatus === "unexpected-pass")
      lines.push(
        `${where(r)}: unexpected pass (listed as a known gap: ${r.gapReason ?? ""}); remove it from the manifest`,
      );
    else lines.push(...failureLines(r));
  }
  lines.push(countLine({ ...summary, gapsApplied }));
  return lines.join("\n") + "\n";
}

export interface JsonReport {
  readonly file: string;
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly known: number;
  readonly failures: readonly {
    seq: number;
    line: number;
    section: string;
    case: string;
    op: string;
    status: string;
    reason?: string;
    mismatches: readonly { field: string; want: unknown; got: unknown }[];
  }[];
  readonly skips: readonly { seq: number; op: string; reason: string }[];
}

export function jsonReport(summary: GapSummary): JsonReport {
  return {
    file: summary.file,
    passed: summary.passed,
    failed: summary.failed,
    skipped: summary.skipped,
    known: summary.known,
    failures: summary.results.filter(isReported).map((r) => ({
      seq: r.seq,
      line: r.line,
      section: r.section,
      case: r.case,
      op: r.op,
      status: r.gapStatus,
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
      mismatches: r.mismatches.map((m) => ({ field: m.field, want: m.want ?? null, got: m.got ?? null })),
    })),
    skips: summary.results
      .filter((r) => r.gapStatus === "skip")
      .map((r) => ({ seq: r.seq, op: r.op, reason: r.reason ?? "" })),
  };
}
