/** `ioas replay --save-state/--at` and `--load-state/--from`: a continued replay reports the same records. */

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { loadTrace } from "../../src/replay/loader.js";
import { listVectorFiles } from "../../src/replay/suite.js";
import { STATE_VERSION } from "../../src/state/index.js";

const vectors = resolve(import.meta.dirname, "../../../shared/vectors");
const files = listVectorFiles(vectors);

async function ioas(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

interface Report {
  passed: number;
  failed: number;
  skipped: number;
  skips: { seq: number }[];
}

describe.skipIf(files.length === 0)("ioas replay --save-state / --load-state", () => {
  const dir = mkdtempSync(join(tmpdir(), "ioas-state-"));
  for (const file of [
    files.find((f) => f.includes("iommufd.jsonl"))!,
    files.find((f) => f.includes("type1-v2"))!,
  ]) {
    it(`${file.slice(vectors.length + 1)}: save at a record, continue from the next`, async () => {
      const t = loadTrace(file);
      const ops = t.records.filter((r) => r.kind === "op");
      const cut = ops[Math.floor(ops.length / 2)]!.seq;
      const next = t.records.find((r) => r.seq > cut)!.seq;
      const state = join(dir, "mid.json");
      const whole = await ioas("replay", file, "--json");
      expect(whole.code).toBe(0);
      const saved = await ioas("replay", file, "--json", "--save-state", state, "--at", String(cut));
      expect(saved.out).toBe(whole.out);
      const doc = JSON.parse(readFileSync(state, "utf8")) as { format: string; version: number };
      expect([doc.format, doc.version]).toEqual(["ioas-state", STATE_VERSION]);
      const cont = await ioas("replay", file, "--json", "--load-state", state, "--from", String(next));
      const dflt = await ioas("replay", file, "--json", "--load-state", state);
      expect(cont.code).toBe(0);
      expect(dflt.out).toBe(cont.out);
      const w = JSON.parse(whole.out) as Report;
      const c = JSON.parse(cont.out) as Report;
      const opsAfter = ops.filter((r) => r.seq >= next).length;
      expect(c.passed + c.failed + c.skipped).toBe(opsAfter);
      expect(c.failed).toBe(0);
      expect(c.skips).toEqual(w.skips.filter((s) => s.seq >= next));
    });
  }

  it("refuses a corrupted, truncated or foreign state with a clear message", async () => {
    const file = files[0]!;
    const state = join(dir, "end.json");
    expect((await ioas("replay", file, "--save-state", state)).code).toBe(0);
    const text = readFileSync(state, "utf8");
    writeFileSync(join(dir, "cut.json"), text.slice(0, text.length / 2));
    const cut = await ioas("replay", file, "--load-state", join(dir, "cut.json"));
    expect(cut.code).not.toBe(0);
    expect(cut.err).toMatch(/state .*cut\.json: not valid JSON/);
    writeFileSync(join(dir, "future.json"), text.replace(`"version":${STATE_VERSION}`, '"version":9'));
    const future = await ioas("replay", file, "--load-state", join(dir, "future.json"));
    expect(future.err).toMatch(/version 9 is newer/);
    const other = files.find((f) => !f.endsWith(file.split("/").at(-1)!))!;
    const wrong = await ioas("replay", other, "--load-state", state);
    expect(wrong.err).toMatch(/saved while replaying/);
    expect((await ioas("replay", file, "--at", "3")).err).toMatch(/--at needs --save-state/);
  });
});
