import { describe, expect, it } from "vitest";
import { kernelFeatures, parseKernelRelease } from "../../src/core/kernel.js";

describe("kernel features from the release string", () => {
  it("parses Debian and stable releases", () => {
    expect(parseKernelRelease("6.1.0-56-amd64")).toEqual({ major: 6, minor: 1, patch: 0 });
    expect(parseKernelRelease("6.12.107")).toEqual({ major: 6, minor: 12, patch: 107 });
    expect(() => parseKernelRelease("linux")).toThrow(RangeError);
  });
  it("derives the version switches the vectors pin", () => {
    const k61 = kernelFeatures("6.1.0-56-amd64", false);
    const k612 = kernelFeatures("6.12.107", true);
    expect([k61.iommufd, k61.vfioCapsAligned, k61.setContainerEbadfd]).toEqual([false, false, false]);
    expect([k612.iommufd, k612.vfioCapsAligned, k612.iommufdLastNr, k612.hwptAllocSize]).toEqual([
      true,
      true,
      0x8e,
      48,
    ]);
    expect(k612.type1Eoverflow).toBe(false);
    expect(kernelFeatures("6.19.0", true).type1Eoverflow).toBe(true);
  });
  it("knows the compat empty-unmap fix by mainline release and stable back-port", () => {
    expect(kernelFeatures("6.12.107", true).compatEmptyUnmapOk).toBe(true);
    expect(kernelFeatures("6.12.40", true).compatEmptyUnmapOk).toBe(false);
    expect(kernelFeatures("6.12.58", true).compatEmptyUnmapOk).toBe(false);
    expect(kernelFeatures("6.12.59", true).compatEmptyUnmapOk).toBe(true);
    expect(kernelFeatures("6.6.116", true).compatEmptyUnmapOk).toBe(false);
    expect(kernelFeatures("6.6.117", true).compatEmptyUnmapOk).toBe(true);
    expect(kernelFeatures("6.17.8", true).compatEmptyUnmapOk).toBe(false);
    expect(kernelFeatures("6.17.9", true).compatEmptyUnmapOk).toBe(true);
    expect(kernelFeatures("6.8.0", true).compatEmptyUnmapOk).toBe(false);
    expect(kernelFeatures("6.18.0", true).compatEmptyUnmapOk).toBe(true);
  });
});
