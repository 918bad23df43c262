// Permission errors, simulated so the test also holds when run as root.
import { rmSync } from "node:fs";
import { join } from "node:path";
import type * as FsModule from "node:fs";
import { afterAll, describe, expect, it, vi } from "vitest";

vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof FsModule>();
  return {
    ...fs,
    readFileSync: ((path: string, ...rest: unknown[]) => {
      if (String(path).endsWith("iommu_groups/2/reserved_regions")) {
        throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
      }
      return (fs.readFileSync as (...a: unknown[]) => unknown)(path, ...rest);
    }) as typeof fs.readFileSync,
  };
});

const { PRESETS } = await import("../../src/core/topology/presets.js");
const { HostReadError } = await import("../../src/host/errors.js");
const { readSysfsHost } = await import("../../src/host/sysfs-reader.js");
const { writeFakeSysfs } = await import("../helpers/fake-sysfs.js");

const root = writeFakeSysfs(PRESETS["qemu-q35-vtd"]!.build());
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("sysfs reader permission errors", () => {
  it("names the unreadable file", () => {
    const file = join(root, "sys/kernel/iommu_groups/2/reserved_regions");
    expect(() => readSysfsHost(root)).toThrow(HostReadError);
    expect(() => readSysfsHost(root)).toThrow(`${file}: permission denied`);
  });
});
