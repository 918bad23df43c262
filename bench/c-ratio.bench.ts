/**
 * Workload 1's "at least as fast as the C red-black tree" target, judged interleaved. On a shared
 * machine the C anchor's own speed drifts by tens of percent between runs a few minutes apart, so
 * the ratio of an engine's row to a C row of the same full run says as much about when each ran as
 * about the engines. Here each round runs C, the type1 engine, the iommufd engine, C again — back
 * to back, the same index set and order at the same n — and an engine's ratio in a round is its
 * pairs/s over the mean of the two C runs around it. The rows carry the median over the rounds
 * (`ratio_to_c`) and every round in their note.
 */

import { median, type Bench, type Row } from "./lib.js";
import { runFace } from "./engine-map.bench.js";
import { cAnchor } from "./map-unmap.bench.js";
import { iommufdTyped, type1Typed, type Face } from "./setup.js";

const WORKLOAD = "map_unmap_4k_random_vs_c";

const ENGINES: readonly (readonly [string, (arenaBytes: bigint) => Face])[] = [
  ["ioas-type1", type1Typed],
  ["ioas-iommufd", (b) => iommufdTyped(b)],
];

function cPairsPerSecond(n: number): number | null {
  return cAnchor([n])[0]?.pairs_per_s ?? null;
}

const k = (x: number): string => `${Math.round(x / 1000)}k`;

export const bench: Bench = ({ quick, log }) => {
  const n = quick ? 10_000 : 1_000_000;
  const rounds = quick ? 2 : 5;
  if (cPairsPerSecond(1000) === null) {
    log(`${WORKLOAD}: skipped (no C anchor: ../shared/bench-anchor and Debian's libbsd-dev)`);
    return [];
  }
  for (const [, make] of ENGINES) runFace(WORKLOAD, make, 20_000); // JIT warm-up, discarded

  const cRuns: number[] = [];
  const perEngine = ENGINES.map(() => ({ pairs: [] as number[], ratios: [] as number[] }));
  for (let r = 0; r < rounds; r++) {
    const before = cPairsPerSecond(n)!;
    const got = ENGINES.map(([, make]) => runFace(WORKLOAD, make, n).pairs_per_s!);
    const after = cPairsPerSecond(n)!;
    cRuns.push(before, after);
    const c = (before + after) / 2;
    got.forEach((pairs, i) => {
      perEngine[i]!.pairs.push(pairs);
      perEngine[i]!.ratios.push(pairs / c);
    });
    log(
      `${WORKLOAD} round ${r + 1}: C ${k(before)} / ${k(after)}, ` +
        ENGINES.map(([impl], i) => `${impl} ${k(got[i]!)} (${(got[i]! / c).toFixed(2)}× C)`).join(", "),
    );
  }

  const cMedian = median(cRuns);
  const rows: Row[] = [
    {
      workload: WORKLOAD,
      impl: "c-rbtree",
      n,
      pairs_per_s: Math.round(cMedian),
      ns_per_op: Math.round(1e9 / cMedian / 2),
      note: `${cRuns.length} runs, ${k(Math.min(...cRuns))}–${k(Math.max(...cRuns))} pairs/s`,
    },
  ];
  ENGINES.forEach(([impl], i) => {
    const { pairs, ratios } = perEngine[i]!;
    const p = median(pairs);
    rows.push({
      workload: WORKLOAD,
      impl,
      n,
      pairs_per_s: Math.round(p),
      ns_per_op: Math.round(1e9 / p / 2),
      ratio_to_c: Number(median(ratios).toFixed(3)),
      note: `${rounds} rounds interleaved with C; ratio per round ${ratios.map((x) => x.toFixed(2)).join(", ")}`,
    });
  });
  for (const row of rows.slice(1))
    log(`${WORKLOAD} ${row.impl} n=${n}: median ${row.ratio_to_c}× C (${row.note})`);
  return rows;
};
