import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe("ioas plan", () => {
  it("prints the layout with hex bounds and sizes and exits 0 when mappable", async () => {
    const r = await run("plan", "--preset", "qemu-q35-vtd", "--ram", "16G", "--groups", "1");
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toContain("Machine: QEMU x86 q35, 16 GiB RAM, fixups: qemu, vCPU: intel");
    expect(r.out).toMatch(/ram-below-4g\s+0x0\s+0x7fffffff\s+2 GiB\s+ok\s+\[0x0, 0xfedfffff\]/);
    expect(r.out).toMatch(
      /ram-above-4g\s+0x100000000\s+0x47fffffff\s+14 GiB\s+ok\s+\[0xfef00000, 0x7fffffffff\]/,
    );
    expect(r.out).toMatch(/LAPIC \/ MSI window\s+0xfee00000\s+0xfeefffff\s+1 MiB/);
    expect(r.out).toContain("Result: mappable");
  });

  it("explains the conflict and exits 1 when not mappable", async () => {
    const r = await run(
      "plan",
      "--preset",
      "amd-vi",
      "--ram",
      "1T",
      "--devices",
      "01:00.0",
      "--fixup",
      "none",
    );
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/ram-above-4g\s+0x100000000\s+0x1007fffffff\s+1022 GiB\s+EINVAL/);
    expect(r.out).toContain("meets reserved [0xfd00000000, 0xffffffffff] of group 1 (0000:01:00.0)");
    expect(r.out).toContain("Result: NOT mappable");
    expect(r.err).toContain("ioas: the guest RAM layout is not mappable");
  });

  it("reports the QEMU relocation as a fixup", async () => {
    const r = await run("plan", "--preset", "amd-vi", "--ram", "1T", "--groups", "1");
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      "amd-ht-relocation: [0x100000000, 0x1007fffffff] -> [0x10000000000, 0x1ff7fffffff]",
    );
  });

  it("says when the aperture is too small", async () => {
    const r = await run("plan", "--preset", "intel-vtd-39", "--ram", "1T", "--groups", "1");
    expect(r.code).toBe(1);
    expect(r.out).toContain("Aperture too small: RAM reaches 0x1007fffffff (41 address bits)");
  });

  it("re-checks a hotplug: type1 EINVAL, iommufd EADDRINUSE, which mapping", async () => {
    const r = await run(
      "plan",
      "--preset",
      "two-iommus",
      "--ram",
      "600G",
      "--groups",
      "1",
      "--hotplug",
      "80:00.0",
    );
    expect(r.code).toBe(1);
    expect(r.out).toContain("type1:   refused, EINVAL");
    expect(r.out).toContain("iommufd: refused, EADDRINUSE");
    expect(r.out).toContain("mapping ram-above-4g [0x100000000, 0x967fffffff] lies outside dmar1's aperture");
    expect(r.err).toContain("hot-adding 0000:80:00.0 would be refused");
  });

  it("prints one JSON document", async () => {
    const r = await run("plan", "--preset", "arm-smmu-v3", "--ram", "0x400000000", "--groups", "1", "--json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.source).toEqual({ kind: "preset", name: "arm-smmu-v3", fallback: false });
    expect(j.machine).toEqual({ id: "arm-virt", name: "QEMU arm64 virt" });
    expect(j.ram).toBe("0x400000000");
    expect(j.mappable).toBe(true);
    expect(j.regions).toEqual([
      {
        name: "mach-virt.ram",
        start: "0x40000000",
        last: "0x43fffffff",
        size: "0x400000000",
        mappable: true,
        within: { start: "0x8100000", last: "0xffffffffffff", size: "0xfffff7f00000" },
        errno: null,
        conflicts: [],
      },
    ]);
    expect(j.hotplug).toBeNull();
  });

  it("exits 2 with a clear message on bad input", async () => {
    const cases: [string[], RegExp][] = [
      [["--ram", "-4G", "--groups", "1"], /RAM size must be positive/],
      [["--ram", "lots", "--groups", "1"], /bad size "lots"/],
      [["--ram", "16G", "--groups", "1", "--machine", "vax"], /unknown machine "vax"/],
      [["--ram", "16G", "--devices", "00:09.0"], /no device 0000:00:09.0/],
      [["--ram", "16G", "--groups", "1", "--fixup", "all"], /unknown fixup mode "all"/],
      [["--ram", "16G", "--groups", "1", "--hotplug", "00:04.0"], /already uses/],
      [["--ram", "16G", "--groups", "1", "--cpu-vendor", "via"], /bad --cpu-vendor/],
      [["--groups", "1"], /give --ram/],
      [["--ram", "16G"], /give --devices/],
    ];
    for (const [args, message] of cases) {
      const r = await run("plan", "--preset", "qemu-q35-vtd", ...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.out).toBe("");
    }
  });
});
