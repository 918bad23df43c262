import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { PRESETS } from "../../src/core/topology/presets.js";
import { writeFakeSysfs } from "../helpers/fake-sysfs.js";

const dir = mkdtempSync(join(tmpdir(), "ioas-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe("ioas inspect", () => {
  it("shows groups, drivers, viability, units, regions and usable ranges", async () => {
    const r = await run("inspect", "--preset", "qemu-q35-vtd");
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toContain("Source: preset qemu-q35-vtd");
    expect(r.out).toMatch(
      /dmar0\s+intel-vtd\s+39-bit\s+\[0x0, 0x7fffffffff\]\s+4 KiB\|2 MiB\|1 GiB\s+yes \(IR\)/,
    );
    expect(r.out).toMatch(
      /1\s+DMA-FQ\s+dmar0\s+yes, vfio\s+0000:00:04\.0\s+1234:11e8\s+00ff00\s+vfio-pci\s+\/dev\/vfio\/devices\/vfio0/,
    );
    expect(r.out).toMatch(/4\s+DMA-FQ\s+dmar0\s+no\s+0000:00:1f\.0/);
    expect(r.out).toMatch(/4\s+0x0\s+0xffffff\s+16 MiB\s+direct-relaxable/);
    expect(r.out).toMatch(/all\s+0x0\s+0xfedfffff\s+3\.9 GiB\n\s+0xfef00000\s+0x7fffffffff/);
  });

  it("marks msi lines read from sysfs as ambiguous", async () => {
    const root = writeFakeSysfs(PRESETS["arm-smmu-v3"]!.build(), join(dir, "smmu"));
    const r = await run("inspect", "--root", root);
    expect(r.code).toBe(0);
    expect(r.out).toContain("sysfs prints hardware and software MSI windows alike");
    expect(r.out).toMatch(/0x8000000\s+0x80fffff\s+1 MiB\s+sw-msi\?/);
    expect(r.out).toContain("SMMUv3 aperture not in sysfs, assumed 48-bit");
  });

  it("says plainly when there are no IOMMU groups and shows the default preset", async () => {
    const r = await run("inspect", "--preset", "no-iommu");
    expect(r.code).toBe(0);
    expect(r.out).toContain("No IOMMU groups");
    expect(r.out).toContain('The default preset, "qemu-q35-vtd"');
    expect(r.out).toContain("Host: preset qemu-q35-vtd");
  });

  it("prints one JSON document", async () => {
    const r = await run("inspect", "--preset", "virtio-iommu", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.source).toEqual({ kind: "preset", name: "virtio-iommu", fallback: false });
    expect(j.host.iommus[0].pgsizeBitmap).toBe("0xfffffffffffff000");
    expect(j.groups[1]).toMatchObject({ id: 1, viable: true, vfio: true, devices: ["0000:00:04.0"] });
    expect(j.groups[1].usable).toEqual([
      { start: "0x0", last: "0xfedfffff", size: "0xfee00000" },
      { start: "0xfef00000", last: "0xffffffffffffffff", size: "0xffffffff01100000" },
    ]);
    expect(j.allGroups.groups).toEqual([0, 1, 2, 3]);
  });

  it("falls back to the default preset on a machine without groups, naming it", async () => {
    const r = await run("inspect");
    expect(r.code).toBe(0);
    if (r.out.includes("Source: sysfs under /")) return; // this machine has an IOMMU
    expect(r.out).toContain('showing the built-in preset "qemu-q35-vtd"');
  });
});

describe("ioas ranges", () => {
  it("explains every gap", async () => {
    const r = await run("ranges", "--preset", "amd-vi", "--devices", "01:00.0");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/0xfef00000\s+0xfcffffffff/);
    expect(r.out).toContain("[0xfd00000000, 0xffffffffff] 12 GiB");
    expect(r.out).toContain(
      "group 1 (0000:01:00.0): reserved [0xfd00000000, 0xffffffffff], from AMD HyperTransport hole",
    );
  });

  it("explains aperture gaps of two units", async () => {
    const r = await run("ranges", "--preset", "two-iommus", "--groups", "1,3");
    expect(r.out).toContain("outside dmar1's aperture [0x0, 0x7fffffffff]");
  });

  it("gives the JSON shape", async () => {
    const r = await run("ranges", "--preset", "qemu-q35-vtd", "--groups", "4", "--json");
    const j = JSON.parse(r.out);
    expect(j.ranges).toEqual([
      { start: "0x0", last: "0xfedfffff", size: "0xfee00000" },
      { start: "0xfef00000", last: "0x7fffffffff", size: "0x7f01100000" },
    ]);
    expect(j.gaps[0].reasons[0]).toMatchObject({ kind: "reserved", group: 4, region: { type: "msi" } });
    expect(j.gaps[1].reasons[0]).toMatchObject({ kind: "aperture", iommu: "dmar0" });
    expect(j.ignored[0]).toMatchObject({ group: 4, region: { type: "direct-relaxable", start: "0x0" } });
  });

  it("rejects bad input with a clean message and exit 2", async () => {
    for (const [args, msg] of [
      [["ranges", "--preset", "qemu-q35-vtd", "--devices", "00:4.0"], /bad BDF "00:4\.0"/],
      [["ranges", "--preset", "qemu-q35-vtd", "--groups", "one"], /bad group "one"/],
      [["ranges", "--preset", "qemu-q35-vtd"], /give --devices/],
      [["ranges", "--preset", "nope", "--groups", "1"], /unknown preset "nope"/],
      [["inspect", "--preset", "amd-vi", "--root", "/"], /choose one of --root, --preset/],
      [["inspect", "--bogus"], /unknown option '--bogus'/],
      [["frobnicate"], /unknown command 'frobnicate'/],
    ] as const) {
      const r = await run(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(msg);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it("fails with exit 1 on questions the host cannot answer", async () => {
    const r = await run("ranges", "--preset", "qemu-q35-vtd", "--devices", "0000:00:09.0");
    expect(r.code).toBe(1);
    expect(r.err).toBe("ioas: no device 0000:00:09.0 on preset qemu-q35-vtd\n");
  });
});

describe("ioas presets and snapshot", () => {
  it("lists presets", async () => {
    const r = await run("presets");
    expect(r.out).toMatch(/qemu-q35-vtd \(default\)/);
    const j = JSON.parse((await run("presets", "--json")).out);
    expect(j.map((p: { name: string }) => p.name)).toEqual(Object.keys(PRESETS));
    expect(JSON.parse((await run("presets", "--preset", "amd-vi", "--json")).out).host.name).toBe(
      "preset amd-vi",
    );
    expect((await run("presets", "--root", "/")).code).toBe(2);
  });

  it("snapshots a host and reads it back with --host", async () => {
    const file = join(dir, "snap.json");
    const w = await run("snapshot", "--preset", "two-iommus", "-o", file, "--json");
    expect(w.code).toBe(0);
    expect(JSON.parse(w.out)).toEqual({ file, format: "ioas-host", version: 1, host: "preset two-iommus" });
    const direct = await run("inspect", "--preset", "two-iommus", "--json");
    const loaded = await run("inspect", "--host", file, "--json");
    expect(JSON.parse(loaded.out).host).toEqual(JSON.parse(direct.out).host);
    const stdout = await run("snapshot", "--preset", "two-iommus");
    expect(stdout.out).toBe(readFileSync(file, "utf8"));
  });

  it("reports unreadable or broken --host files cleanly", async () => {
    const missing = await run("inspect", "--host", join(dir, "none.json"));
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(`ioas: ${join(dir, "none.json")}: cannot read snapshot: missing\n`);
    const bad = join(dir, "bad.json");
    writeFileSync(bad, '{"format":"ioas-host","version":9,"host":{}}');
    const future = await run("inspect", "--host", bad);
    expect(future.code).toBe(1);
    expect(future.err).toMatch(/snapshot version 9 is newer/);
  });

  it("reports a broken sysfs tree with file and line", async () => {
    const root = writeFakeSysfs(PRESETS["qemu-q35-vtd"]!.build(), join(dir, "broken"));
    const file = join(root, "sys/kernel/iommu_groups/1/reserved_regions");
    writeFileSync(file, "garbage\n");
    const r = await run("inspect", "--root", root);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      new RegExp(`^ioas: ${file.replace(/[.]/g, "\\.")}:1: bad reserved region "garbage"`),
    );
  });

  it("prints help with exit 0", async () => {
    const r = await run("--help");
    expect(r.code).toBe(0);
    for (const c of ["inspect", "ranges", "presets", "snapshot"]) expect(r.out).toContain(c);
  });
});
