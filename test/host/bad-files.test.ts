/**
 * Hostile input files — truncated, malformed, NUL bytes, deep nesting, huge or >64-bit numbers,
 * negative sizes, wrong types — through the CLI: each gives a clear error naming the file (and the
 * line, for traces) and exit code 1; never a stack trace.
 */

import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { snapshotToText } from "../../src/host/snapshot.js";
import { qemuQ35VtdHost } from "../../src/core/topology/presets.js";

import { VECTORS } from "../helpers/vectors.js";

const VEC = `${VECTORS}/6.12.107-oracle`;
const dir = mkdtempSync(join(tmpdir(), "ioas-bad-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  let code: number;
  try {
    code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  } catch (e) {
    // An exception out of main is itself a failure: make it visible in the assertion.
    return { code: -1, out, err: `THROWN ${(e as Error).stack ?? String(e)}` };
  }
  return { code, out, err };
}

function expectClean(r: { code: number; err: string }, file: string): void {
  expect(r.code, r.err).toBe(1);
  expect(r.err).toContain(file);
  expect(r.err).not.toMatch(/\n\s+at .+\(.*:\d+:\d+\)/);
  expect(r.err).not.toContain("THROWN");
}

const deep = (n: number): string => "[".repeat(n) + "]".repeat(n);
const GOOD_TRACE_LINE = readFileSync(join(VEC, "iommufd.jsonl"), "utf8").split("\n")[0]!;

/** Trace bodies, each paired with its sibling run definition and sysfs dump. */
const TRACES: Record<string, string> = {
  empty: "",
  truncated: GOOD_TRACE_LINE.slice(0, GOOD_TRACE_LINE.length >> 1),
  nul: GOOD_TRACE_LINE.replace(/"/, '"\0'),
  "not-json": "this is not json\n",
  "deep-nesting": `{"seq":1,"x":${deep(100000)}}\n`,
  "wrong-types": '{"seq":"one","kind":7,"op":[],"fd":{},"ret":"x"}\n',
  "huge-numbers": '{"seq":1e400,"section":"a","case":"b","op":"open","fd":"f","ret":-1e400,"errno":null}\n',
  "over-64-bit": `{"seq":1,"section":"s","case":"c","op":"IOMMU_IOAS_MAP","fd":"f","in":{"size":"0x1${"0".repeat(20)}"},"out":{},"ret":0,"errno":null}\n`,
  "negative-size":
    '{"seq":1,"section":"s","case":"c","op":"IOMMU_IOAS_MAP","fd":"f","in":{"size":-40},"out":{},"ret":0,"errno":null}\n',
  array: "[1,2,3]\n",
  binary: String.fromCharCode(...Array.from({ length: 300 }, (_, i) => (i * 37) % 256)),
};

describe("bad traces: ioas replay", () => {
  for (const [name, body] of Object.entries(TRACES)) {
    it(name, async () => {
      const base = join(dir, `t-${name}`);
      writeFileSync(base + ".jsonl", body);
      copyFileSync(join(VEC, "iommufd-run.json"), base + "-run.json");
      copyFileSync(join(VEC, "iommufd-sysfs.txt"), base + "-sysfs.txt");
      const r = await run("replay", base + ".jsonl");
      // A trace with nothing wrong in it may replay (an empty one has no records); anything else
      // must be refused cleanly.
      if (r.code === 0) expect(name).toBe("empty");
      else expectClean(r, `t-${name}`);
    });
  }

  const SIBLINGS: Record<string, [string, string]> = {
    "run truncated": [readFileSync(join(VEC, "iommufd-run.json"), "utf8").slice(0, 40), "run"],
    "run wrong types": ['{"kernel": 5, "devices": "x"}', "run"],
    "run deep": [deep(100000), "run"],
    "sysfs binary": ["\0\0\0\xff\xfe garbage\n\0", "sysfs"],
    "sysfs huge numbers": [
      readFileSync(join(VEC, "iommufd-sysfs.txt"), "utf8").replace(/0x[0-9a-f]{6,}/, "0x1" + "0".repeat(40)),
      "sysfs",
    ],
    "sysfs truncated": [readFileSync(join(VEC, "iommufd-sysfs.txt"), "utf8").slice(0, 300), "sysfs"],
  };
  for (const [name, [text, which]] of Object.entries(SIBLINGS)) {
    it(name, async () => {
      const base = join(dir, `s-${name.replace(/ /g, "-")}`);
      copyFileSync(join(VEC, "iommufd.jsonl"), base + ".jsonl");
      copyFileSync(join(VEC, "iommufd-run.json"), base + "-run.json");
      copyFileSync(join(VEC, "iommufd-sysfs.txt"), base + "-sysfs.txt");
      writeFileSync(base + (which === "run" ? "-run.json" : "-sysfs.txt"), text);
      const r = await run("replay", base + ".jsonl");
      // A truncated dump may still describe a host: the replay then runs and reports mismatches.
      if (r.code === 0 || (r.err === "" && /\d+ passed, \d+ failed/.test(r.out))) return;
      expectClean(r, base.split("/").pop()!);
    });
  }
});

describe("bad host snapshots: ioas inspect --host", () => {
  const good = snapshotToText(qemuQ35VtdHost());
  const CASES: Record<string, string> = {
    empty: "",
    truncated: good.slice(0, good.length >> 1),
    nul: good.replace(":", ":\0"),
    deep: deep(100000),
    "huge number": good.replace(/"version": 1/, '"version": 1e400'),
    "over-64-bit": good.replace(/"0x[0-9a-f]+"/, `"0x1${"0".repeat(20)}"`),
    "negative size": good.replace(/"0x[0-9a-f]+"/, '"-0x1000"'),
    "wrong type": good.replace(/"host": \{/, '"host": [], "x": {'),
    binary: "\xff\xfe\0\0garbage",
    "just a number": "12345",
  };
  for (const [name, text] of Object.entries(CASES)) {
    it(name, async () => {
      const file = join(dir, `h-${name.replace(/ /g, "-")}.json`);
      writeFileSync(file, text);
      const r = await run("inspect", "--host", file);
      expectClean(r, `h-${name.replace(/ /g, "-")}.json`);
    });
  }
});
