import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { VECTORS } from "../helpers/vectors.js";
import { join } from "node:path";

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe("ioas view", () => {
  it("renders a host topology as one self-contained page", async () => {
    const r = await run("view", "--preset", "qemu-q35-vtd", "--groups", "1");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^<!doctype html>/i);
    expect(r.out).toContain('"kind":"view"');
    expect(r.out).not.toMatch(/<script src=/);
  });

  it("without a selection shows every group of a host with no VFIO-bound device", async () => {
    const r = await run("view", "--preset", "amd-vi", "--json");
    expect(r.code).toBe(0);
    const model = JSON.parse(r.out) as { kind: string; selection: { groups: number[] } };
    expect(model.kind).toBe("view");
    expect(model.selection.groups.length).toBeGreaterThan(0);
  });

  it("turns a kernel trace into a timeline whose steps carry the engine's mappings", async () => {
    const r = await run("view", "--trace", join(VECTORS, "6.12.107-oracle/iommufd.jsonl"), "--json");
    expect(r.code).toBe(0);
    const model = JSON.parse(r.out) as {
      kind: string;
      steps: { label: string; view: { lanes: { id: string; items: { type: string }[] }[] } }[];
    };
    expect(model.kind).toBe("timeline");
    expect(model.steps.length).toBeGreaterThan(50);
    const mapped = model.steps.find((s) => /IOMMU_IOAS_MAP → ok/.test(s.label));
    expect(mapped).toBeDefined();
    const items = mapped!.view.lanes.flatMap((l) => l.items.map((i) => i.type));
    expect(items.some((t) => t.startsWith("mapping"))).toBe(true);
  });

  it("refuses bad input with a plain message", async () => {
    expect((await run("view", "--trace", "/nonexistent.jsonl")).code).toBe(1);
    const bad = await run("view", "--preset", "qemu-q35-vtd", "--trace", "x", "--max-steps", "1");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--max-steps");
  });
});
