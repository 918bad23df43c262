import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PRESETS } from "../../src/core/topology/presets.js";
import { InvalidHostError } from "../../src/core/topology/validate.js";
import { HostReadError } from "../../src/host/errors.js";
import { resolveHost } from "../../src/host/resolve.js";
import { loadSnapshot, saveSnapshot, snapshotFromText, snapshotToText } from "../../src/host/snapshot.js";
import { hostFromSysfsDump } from "../../src/host/sysfs-dump.js";
import { dumpCases } from "../helpers/vectors.js";

const dir = mkdtempSync(join(tmpdir(), "ioas-snap-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const text = snapshotToText(PRESETS["qemu-q35-vtd"]!.build());
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- poking arbitrary fields into parsed JSON
type Json = any;
const edit = (f: (j: Json) => void): string => {
  const j = JSON.parse(text) as Json;
  f(j);
  return JSON.stringify(j);
};
const err = (t: string): string => {
  try {
    snapshotFromText(t, "s.json");
  } catch (e) {
    expect(e instanceof HostReadError || e instanceof InvalidHostError).toBe(true);
    return (e as Error).message;
  }
  throw new Error("expected an error");
};

describe("snapshots", () => {
  it("round-trip every preset and every dump", () => {
    for (const p of Object.values(PRESETS)) {
      const h = p.build();
      expect(snapshotFromText(snapshotToText(h))).toEqual(h);
    }
    for (const c of dumpCases()) {
      const h = hostFromSysfsDump(c.text, c.run, c.name);
      expect(snapshotFromText(snapshotToText(h))).toEqual(h);
    }
  });

  it("write bigints as hex strings under a versioned envelope", () => {
    const j = JSON.parse(text);
    expect(j.format).toBe("ioas-host");
    expect(j.version).toBe(1);
    expect(j.host.iommus[0].vtd.capReg).toBe("0xd2008c22260206");
    expect(j.host.params.pageSize).toBe("0x1000");
  });

  it("save and load through a file, and --host resolves it", () => {
    const file = join(dir, "h.json");
    const h = PRESETS["arm-smmu-v3"]!.build();
    saveSnapshot(file, h);
    expect(loadSnapshot(file)).toEqual(h);
    expect(resolveHost({ hostFile: file }).host).toEqual(h);
    expect(readFileSync(file, "utf8").endsWith("}\n")).toBe(true);
  });

  it("refuse what they cannot trust", () => {
    expect(err(edit((j) => (j.version = 2)))).toMatch(/snapshot version 2 is newer than this ioas reads/);
    expect(err(edit((j) => (j.version = "1")))).toMatch(/"version" must be a positive integer/);
    expect(err(edit((j) => (j.format = "other")))).toMatch(/not an ioas host snapshot/);
    expect(err(edit((j) => (j.host.iommus[0].aperture.last = 12)))).toMatch(
      /\$\.host\.iommus\[0\]\.aperture\.last: expected a "0x…" lowercase hex string/,
    );
    expect(err(edit((j) => (j.host.params.type1.allowUnsafeInterrupts = "N")))).toMatch(
      /expected true or false/,
    );
    expect(err(edit((j) => (j.host.devices[0].extra = 1)))).toMatch(
      /\$\.host\.devices\[0\]: unknown key "extra"/,
    );
    expect(err(edit((j) => delete j.host.groups))).toMatch(/missing key "groups"/);
    expect(err(edit((j) => (j.host.groups[0].reservedRegions[0].type = "magic")))).toMatch(
      /direct \| direct-relaxable/,
    );
    expect(err(edit((j) => (j.host.devices[0].group = 77)))).toMatch(/group 77 does not exist/);
    expect(err(edit((j) => (j.host.iommus[0].pgsizeBitmap = "0x1" + "0".repeat(16))))).toMatch(/u64/);
    expect(err("[]")).toMatch(/expected an ioas-host snapshot object/);
  });

  it("name the line of broken JSON", () => {
    const e = err('{\n  "format": "ioas-host",\n  "version": 1,\n  oops\n}');
    expect(e).toMatch(/^s\.json:4: not valid JSON/);
  });

  it("report unreadable files", () => {
    expect(() => loadSnapshot(join(dir, "missing.json"))).toThrow(
      /missing\.json: cannot read snapshot: missing/,
    );
    expect(() => loadSnapshot(dir)).toThrow(/cannot read snapshot: is a directory/);
    writeFileSync(join(dir, "empty.json"), "");
    expect(() => loadSnapshot(join(dir, "empty.json"))).toThrow(/not valid JSON/);
  });
});

describe("resolveHost", () => {
  it("picks one source and refuses several", () => {
    expect(resolveHost({ preset: "amd-vi" }).source).toEqual({
      kind: "preset",
      name: "amd-vi",
      fallback: false,
    });
    expect(() => resolveHost({ preset: "amd-vi", root: "/" })).toThrow(/choose one of --root, --preset/);
    expect(() => resolveHost({ preset: "nope" })).toThrow(/unknown preset "nope"/);
  });

  it("falls back to the default preset on a machine without IOMMU groups, naming it", () => {
    const r = resolveHost({});
    if (r.source.kind === "sysfs") return; // this machine has an IOMMU
    expect(r.source).toEqual({ kind: "preset", name: "qemu-q35-vtd", fallback: true });
    expect(r.notices.join()).toMatch(/"qemu-q35-vtd"/);
  });
});
