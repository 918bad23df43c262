/**
 * Workload 1: map then unmap 4 KiB mappings at random non-overlapping IOVAs (n live), each map with
 * the overlap check a mapping needs. Implementations side by side: the engine's extent map, the C
 * red-black tree anchor (../shared/bench-anchor, when libbsd-dev is installed), and the JS interval
 * trees a developer would reach for.
 */

import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import FlattenTree from "@flatten-js/interval-tree";
import { IntervalTree as NodeIntervalTree } from "node-interval-tree";
import { ExtentMap } from "../src/core/extent-map.js";
import {
  heapUsed,
  now,
  repoRoot,
  shuffledEvenPages,
  unmapKeys,
  xorshift,
  type Bench,
  type Row,
} from "./lib.js";

const WORKLOAD = "map_unmap_4k_random";

interface Target {
  impl: string;
  /** Returns false when the range clashes (must never happen here). */
  map(iova: bigint, last: bigint): boolean;
  unmap(iova: bigint): boolean;
}

function extentMap(): Target {
  const m = new ExtentMap<number>();
  return {
    impl: "ioas-extent-map",
    // One search: tryInsert checks for an overlap at the insertion point (what the engines use).
    map: (iova, last) => m.tryInsert(iova, last, 3) !== undefined,
    unmap: (iova) => m.remove(iova) !== undefined,
  };
}

function nodeIntervalTree(): Target {
  interface Rec {
    low: number;
    high: number;
  }
  const t = new NodeIntervalTree<Rec>();
  const live = new Map<number, Rec>();
  return {
    impl: "node-interval-tree",
    map: (iova, last) => {
      const rec = { low: Number(iova), high: Number(last) };
      if (t.search(rec.low, rec.high).length > 0) return false;
      live.set(rec.low, rec);
      return t.insert(rec);
    },
    unmap: (iova) => {
      const rec = live.get(Number(iova));
      if (!rec) return false;
      live.delete(rec.low);
      return t.remove(rec);
    },
  };
}

function flattenTree(): Target {
  const t = new FlattenTree<number>();
  return {
    impl: "@flatten-js/interval-tree",
    map: (iova, last) => {
      const lo = Number(iova);
      const hi = Number(last);
      if (t.intersect_any([lo, hi])) return false;
      t.insert([lo, hi], lo);
      return true;
    },
    unmap: (iova) => {
      const lo = Number(iova);
      return t.remove([lo, lo + 0xfff], lo) !== undefined;
    },
  };
}

export function runTarget(target: Target, n: number): Row {
  const rnd = xorshift();
  const pages = shuffledEvenPages(n, rnd);
  const iovas = pages.map((p) => BigInt(p) << 12n);
  const lasts = iovas.map((v) => v + 0xfffn);
  const h0 = heapUsed();
  const t0 = now();
  for (let i = 0; i < n; i++) if (!target.map(iovas[i]!, lasts[i]!)) throw new Error(`${target.impl}: clash`);
  const t1 = now();
  const h1 = heapUsed();
  const keys = unmapKeys(iovas, rnd, (v) => v + 0n);
  const t2 = now();
  for (let i = 0; i < n; i++) if (!target.unmap(keys[i]!)) throw new Error(`${target.impl}: missing`);
  const t3 = now();
  const seconds = (t1 - t0 + (t3 - t2)) / 1e3;
  return {
    workload: WORKLOAD,
    impl: target.impl,
    n,
    pairs_per_s: Math.round(n / seconds),
    ns_per_op: Math.round((seconds * 1e9) / (2 * n)),
    bytes_per_mapping: Math.round((h1 - h0) / n),
  };
}

/** The C anchor's rows for `sizes` (one run of ../shared/bench-anchor/run); [] without it or libbsd-dev. */
export function cAnchor(sizes: number[]): Row[] {
  const run = path.resolve(repoRoot(), "../shared/bench-anchor/run");
  if (!existsSync(run) || !existsSync("/usr/include/bsd/sys/tree.h")) return [];
  const out = execFileSync(run, sizes.map(String), { encoding: "utf8" });
  return out
    .trim()
    .split("\n")
    .map(
      (l) =>
        JSON.parse(l) as {
          n: number;
          map_ns: number;
          unmap_ns: number;
          pairs_per_s: number;
          bytes_per_mapping: number;
        },
    )
    .map((r) => ({
      workload: WORKLOAD,
      impl: "c-rbtree",
      n: r.n,
      pairs_per_s: r.pairs_per_s,
      ns_per_op: Math.round((r.map_ns + r.unmap_ns) / 2),
      bytes_per_mapping: r.bytes_per_mapping,
    }));
}

export const bench: Bench = (ctx) => {
  const sizes = ctx.quick ? [10_000] : [10_000, 100_000, 1_000_000];
  const rows: Row[] = [...cAnchor(sizes)];
  for (const n of sizes) {
    for (const make of [extentMap, nodeIntervalTree, flattenTree]) {
      runTarget(make(), 20_000); // JIT warm-up, discarded
      const row = runTarget(make(), n);
      ctx.log(
        `${row.workload} ${row.impl} n=${n}: ${row.pairs_per_s} pairs/s, ${row.bytes_per_mapping} B/mapping`,
      );
      rows.push(row);
    }
  }
  return rows;
};
