/** The README's examples run, and say what the README says they say. */
import { describe, expect, it } from "vitest";
import { main as iommufdDma } from "../examples/iommufd-dma.js";
import { main as type1Hotplug } from "../examples/type1-hotplug.js";

function run(main: (log: (l: string) => void) => void): string {
  const lines: string[] = [];
  main((l) => lines.push(l));
  return lines.join("\n");
}

describe("examples", () => {
  it("iommufd-dma", () => {
    const out = run(iommufdDma);
    expect(out).toContain("usable: [0x0, 0xfedfffff] [0xfef00000, 0x7fffffffff] alignment 0x1000");
    expect(out).toContain("mapped 2 MiB at IOVA 0x200000");
    expect(out).toContain("process sees: hello");
    expect(out).toContain("[fault reason 0x05] PTE Write access is not set");
    expect(out).toContain("unmapped 0x200000 bytes");
  });
  it("type1-hotplug", () => {
    expect(run(type1Hotplug)).toContain("group 3 refused: EINVAL");
  });
});
