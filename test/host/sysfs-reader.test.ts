import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PRESETS } from "../../src/core/topology/presets.js";
import type { Host } from "../../src/core/topology/types.js";
import { usableRanges } from "../../src/core/topology/usable.js";
import { validateHost } from "../../src/core/topology/validate.js";
import { HostReadError } from "../../src/host/errors.js";
import { hostFromSysfsDump } from "../../src/host/sysfs-dump.js";
import { readSysfsHost } from "../../src/host/sysfs-reader.js";
import { writeFakeSysfs } from "../helpers/fake-sysfs.js";
import { dumpCases } from "../helpers/vectors.js";

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});
function tree(host: Host): string {
  const root = writeFakeSysfs(host);
  roots.push(root);
  return root;
}
const model = ({ name: _n, description: _d, ...rest }: Host) => rest;

function thrown(f: () => unknown): HostReadError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(HostReadError);
    return e as HostReadError;
  }
  throw new Error("expected a HostReadError");
}

describe("sysfs reader on trees written from the dumps", () => {
  for (const c of dumpCases()) {
    it(`${c.name}: the tree reads back as the dump's host`, () => {
      const fromDump = hostFromSysfsDump(c.text, c.run, c.name);
      const read = validateHost(readSysfsHost(tree(fromDump)));
      expect(model(read)).toEqual(model(fromDump));
    });
  }
});

describe("sysfs reader on trees written from the presets", () => {
  for (const [name, preset] of Object.entries(PRESETS)) {
    it(`${name}: same units, groups and usable ranges`, () => {
      const host = preset.build();
      const read = validateHost(readSysfsHost(tree(host)));
      expect(read.groups.map((g) => [g.id, g.devices])).toEqual(host.groups.map((g) => [g.id, g.devices]));
      expect(read.devices.map((d) => [d.bdf, d.driver, d.group, d.iommu, d.cdev])).toEqual(
        host.devices.map((d) => [d.bdf, d.driver, d.group, d.iommu, d.cdev]),
      );
      expect(read.iommus.map((u) => [u.name, u.kind])).toEqual(host.iommus.map((u) => [u.name, u.kind]));
      // sysfs prints sw-msi as msi; the reader marks both ambiguous and recovers sw-msi on SMMU.
      const types = (h: Host) => h.groups.map((g) => g.reservedRegions.map((r) => [r.start, r.last, r.type]));
      expect(types(read)).toEqual(types(host));
      for (const g of host.groups) {
        expect(usableRanges(read, { groups: [g.id] }).ranges).toEqual(
          usableRanges(host, { groups: [g.id] }).ranges,
        );
      }
    });
  }
});

describe("sysfs reader errors", () => {
  const base = () => tree(PRESETS["qemu-q35-vtd"]!.build());

  it("refuses a missing root", () => {
    const e = thrown(() => readSysfsHost("/nonexistent/ioas-root"));
    expect(e.message).toBe("/nonexistent/ioas-root: missing");
  });

  it("refuses a root without /sys", () => {
    const root = mkdtempSync(join(tmpdir(), "ioas-empty-"));
    roots.push(root);
    expect(thrown(() => readSysfsHost(root)).message).toBe(
      `${join(root, "sys")}: missing: not a Linux root (no sysfs)`,
    );
  });

  it("names the line of a garbage reserved region", () => {
    const root = base();
    const file = join(root, "sys/kernel/iommu_groups/4/reserved_regions");
    writeFileSync(file, "0x0000000000000000 0x0000000000ffffff direct-relaxable\nhello world\n");
    const e = thrown(() => readSysfsHost(root));
    expect(e.file).toBe(file);
    expect(e.line).toBe(2);
    expect(e.message).toContain(`${file}:2: bad reserved region "hello world"`);
  });

  it("detects a truncated file", () => {
    const root = base();
    const file = join(root, "sys/kernel/iommu_groups/1/reserved_regions");
    writeFileSync(file, "0x00000000fee00000 0x00000000fee");
    const e = thrown(() => readSysfsHost(root));
    expect(e.message).toBe(`${file}:1: truncated: last line has no newline`);
  });

  it("detects an empty attribute", () => {
    const root = base();
    writeFileSync(join(root, "sys/kernel/iommu_groups/2/type"), "");
    expect(thrown(() => readSysfsHost(root)).reason).toBe("empty (truncated?)");
  });

  it("detects a missing group file", () => {
    const root = base();
    rmSync(join(root, "sys/kernel/iommu_groups/3/reserved_regions"));
    const e = thrown(() => readSysfsHost(root));
    expect(e.file).toBe(join(root, "sys/kernel/iommu_groups/3/reserved_regions"));
    expect(e.reason).toBe("missing");
  });

  it("detects a missing group devices directory", () => {
    const root = base();
    rmSync(join(root, "sys/kernel/iommu_groups/3/devices"), { recursive: true });
    expect(thrown(() => readSysfsHost(root)).file).toBe(join(root, "sys/kernel/iommu_groups/3/devices"));
  });

  it("detects a bad cap register", () => {
    const root = base();
    writeFileSync(join(root, "sys/devices/virtual/iommu/dmar0/intel-iommu/cap"), "not-hex\n");
    expect(thrown(() => readSysfsHost(root)).reason).toMatch(/expected a hex register/);
  });

  it("detects a group member without a PCI device", () => {
    const root = base();
    rmSync(join(root, "sys/bus/pci/devices/0000:00:05.0"));
    expect(thrown(() => readSysfsHost(root)).reason).toMatch(/no .*0000:00:05.0 for this group member/);
  });

  it("detects a bad module parameter", () => {
    const root = base();
    const file = join(root, "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts");
    writeFileSync(file, "maybe\n");
    expect(thrown(() => readSysfsHost(root)).message).toBe(`${file}:1: expected Y or N, got "maybe"`);
  });

  it("refuses an IOMMU unit of unknown kind", () => {
    const root = base();
    mkdirSync(join(root, "sys/class/iommu/weird0/devices"), { recursive: true });
    expect(thrown(() => readSysfsHost(root)).reason).toMatch(/unknown IOMMU kind/);
  });

  it("reads a host without IOMMU groups", () => {
    const host = readSysfsHost(tree(PRESETS["no-iommu"]!.build()));
    expect(host.groups).toEqual([]);
    expect(host.devices.every((d) => d.group === null)).toBe(true);
  });

  it.skipIf(process.getuid?.() === 0)("reports an unreadable file as permission denied", () => {
    const root = base();
    const file = join(root, "sys/kernel/iommu_groups/1/reserved_regions");
    chmodSync(file, 0);
    expect(thrown(() => readSysfsHost(root)).message).toBe(`${file}: permission denied`);
  });
});
