import { describe, expect, it } from "vitest";
import { hex, humanSize, pageSizesText, parseHex } from "../../src/view/format.js";

describe("view text forms", () => {
  it("writes and reads hex, up to 2^64", () => {
    expect(hex(0n)).toBe("0x0");
    expect(hex(1n << 64n)).toBe("0x10000000000000000");
    expect(parseHex("0xFEE0_0000")).toBe(0xfee00000n);
    expect(parseHex("4096")).toBe(4096n);
    expect(() => parseHex("fee00000")).toThrow(RangeError);
    expect(() => parseHex("0x")).toThrow(RangeError);
  });

  it("gives human sizes, exact or approximate", () => {
    expect(humanSize(0n)).toBe("0 B");
    expect(humanSize(4096n)).toBe("4 KiB");
    expect(humanSize(0x100000n)).toBe("1 MiB");
    expect(humanSize(1n << 64n)).toBe("16 EiB");
    expect(humanSize(0xfee00000n)).toBe("≈3.98 GiB");
    expect(humanSize(0x201000n)).toBe("≈2 MiB");
    expect(humanSize(0x7f01100000n)).toBe("≈508 GiB");
    expect(humanSize(1023n * 1024n + 1000n)).toBe("≈1024 KiB");
  });

  it("lists page sizes of a bitmap", () => {
    expect(pageSizesText(0x40201000n)).toBe("4K 2M 1G");
    expect(pageSizesText((1n << 16n) | (1n << 29n))).toBe("64K 512M");
    expect(pageSizesText(0n)).toBe("none");
  });
});
