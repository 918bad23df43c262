/**
 * Known gaps: records the engine is known not to reproduce yet, each with a reason
 * (test/conformance/known-gaps.json). A listed record that fails is "known"; a listed record that
 * now passes is an "unexpected pass" and counts as a failure, so the list only shrinks.
 *
 * Entry forms: `{file, seq, reason}`, `{file, seqs: "12-40,45", reason}` (consecutive records with
 * one reason), `{file, case, reason}` (every record of that case). `file` is the trace path
 * relative to the vectors directory, e.g. "6.12.107-oracle/iommufd.jsonl".
 */

import { readFileSync } from "node:fs";
import type { RecordResult, ReplayResult } from "./executor.js";

export interface KnownGap {
  readonly file: string;
  readonly seq?: number;
  readonly seqs?: string;
  readonly case?: string;
  readonly reason: string;
}

export interface KnownGapsFile {
  readonly comment?: string;
  readonly gaps: readonly KnownGap[];
}

export type GapStatus = "pass" | "fail" | "skip" | "known" | "unexpected-pass";

export interface GapResult extends RecordResult {
  readonly gapStatus: GapStatus;
  readonly gapReason?: string;
}

export interface GapSummary {
  readonly file: string;
  readonly results: readonly GapResult[];
  readonly passed: number;
  /** Unexpected failures plus unexpected passes. */
  readonly failed: number;
  readonly skipped: number;
  readonly known: number;
  readonly unexpectedPasses: number;
}

export function parseSeqs(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new RangeError(`bad seqs list ${JSON.stringify(text)}`);
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    for (let s = a; s <= b; s++) out.push(s);
  }
  return out;
}

export function loadKnownGaps(path: string): KnownGapsFile {
  const raw = JSON.parse(readFileSync(path, "utf8")) as KnownGapsFile;
  if (!raw || !Array.isArray(raw.gaps)) throw new Error(`${path}: expected {"gaps": [...]}`);
  for (const g of raw.gaps) {
    if (typeof g.file !== "string" || typeof g.reason !== "string")
      throw new Error(`${path}: every gap needs "file" and "reason"`);
    if (g.seq === undefined && g.seqs === undefined && g.case === undefined)
      throw new Error(`${path}: gap for ${g.file} needs "seq", "seqs" or "case"`);
  }
  return raw;
}

/** The gaps of one trace file, as a lookup by record. */
export function gapLookup(gaps: KnownGapsFile, file: string): (r: RecordResult) => string | undefined {
  const bySeq = new Map<number, string>();
  const byCase = new Map<string, string>();
  for (const g of gaps.gaps) {
    if (g.file !== file) continue;
    if (g.seq !== undefined) bySeq.set(g.seq, g.reason);
    if (g.seqs !== undefined) for (const s of parseSeqs(g.seqs)) bySeq.set(s, g.reason);
    if (g.case !== undefined) byCase.set(g.case, g.reason);
  }
  return (r) => bySeq.get(r.seq) ?? byCase.get(r.case);
}

/** Classify a replay against the known gaps of its file. */
export function applyGaps(result: ReplayResult, gaps: KnownGapsFile | null, file: string): GapSummary {
  const lookup = gaps ? gapLookup(gaps, file) : () => undefined;
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let known = 0;
  let unexpectedPasses = 0;
  const results = result.results.map((r): GapResult => {
    const gap = lookup(r);
    let gapStatus: GapStatus = r.status;
    if (gap !== undefined && r.status === "fail") gapStatus = "known";
    else if (gap !== undefined && r.status === "pass") gapStatus = "unexpected-pass";
    if (gapStatus === "pass") passed++;
    else if (gapStatus === "fail") failed++;
    else if (gapStatus === "skip") skipped++;
    else if (gapStatus === "known") known++;
    else {
      unexpectedPasses++;
      failed++;
    }
    return { ...r, gapStatus, ...(gap !== undefined ? { gapReason: gap } : {}) };
  });
  return { file, results, passed, failed, skipped, known, unexpectedPasses };
}

/** A one-line reason for a failed record (what the manifest stores). */
export function failureReason(r: RecordResult): string {
  if (r.reason) return r.reason;
  if (r.mismatches.length === 0) return "failed";
  const v = (x: unknown): string =>
    x === undefined ? "(absent)" : typeof x === "string" ? x : JSON.stringify(x);
  const shown = r.mismatches.slice(0, 2).map((m) => `${m.field} want ${v(m.want)} got ${v(m.got)}`);
  const more = r.mismatches.length > 2 ? ` (+${r.mismatches.length - 2} more)` : "";
  return shown.join("; ") + more;
}

/** Build manifest entries from failures: consecutive seqs with the same reason share one entry. */
export function gapsFromResults(file: string, results: readonly RecordResult[]): KnownGap[] {
  const out: KnownGap[] = [];
  let run: { first: number; last: number; reason: string } | null = null;
  const flush = (): void => {
    if (!run) return;
    if (run.first === run.last) out.push({ file, seq: run.first, reason: run.reason });
    else out.push({ file, seqs: `${run.first}-${run.last}`, reason: run.reason });
    run = null;
  };
  let prevSeq = -2;
  for (const r of results) {
    if (r.status !== "fail") {
      flush();
      prevSeq = r.seq;
      continue;
    }
    const reason = failureReason(r);
    // Event records sit between op records; "consecutive" means no op record in between.
    if (run && run.reason === reason && prevSeq === run.last) run.last = r.seq;
    else {
      flush();
      run = { first: r.seq, last: r.seq, reason };
    }
    prevSeq = r.seq;
  }
  flush();
  return out;
}

/** The manifest key of a trace path: `<kernel dir>/<run>.jsonl`. */
export function gapKey(tracePath: string): string {
  const parts = tracePath.split(/[\\/]/).filter((p) => p !== "");
  return parts.slice(-2).join("/");
}
