/**
 * RAM sizes as a VMM command line writes them: "16G", "512M", "1T", "1.5G", plain bytes, 0x hex.
 *
 * Suffixes are binary (QEMU's `-m 16G` is 16 GiB; "GiB" and "GB" are accepted and mean the same).
 * Guest RAM must be a whole number of 4 KiB pages: MAP_DMA refuses sizes that are not multiples of
 * the IOMMU page (semantics.md §1.2 MAP_DMA step 6), and no x86/arm64 IOMMU page is smaller.
 */

import { PAGE_SIZE, U64_MAX, formatSize } from "../u64.js";
import { PlanInputError } from "./types.js";

const SHIFT: Readonly<Record<string, bigint>> = { "": 0n, k: 10n, m: 20n, g: 30n, t: 40n, p: 50n, e: 60n };

const SIZE = /^(\d+)(?:\.(\d+))?\s*([kmgtpe]?)(?:i?b)?$/i;
const HEX = /^0x[0-9a-f]+$/i;

/** Parse a RAM size; throws PlanInputError with the reason for anything that is not a usable size. */
export function parseSize(text: string): bigint {
  const t = text.trim();
  if (t.startsWith("-")) throw new PlanInputError(`RAM size must be positive, got "${text}"`);
  let bytes: bigint;
  if (HEX.test(t)) {
    bytes = BigInt(t);
  } else {
    const m = SIZE.exec(t);
    if (!m) {
      throw new PlanInputError(
        `bad size "${text}": expected bytes (decimal or 0x hex) or a number with K, M, G, T, P (binary: 16G = 16 GiB)`,
      );
    }
    const shift = SHIFT[(m[3] ?? "").toLowerCase()] ?? 0n;
    const frac = m[2] ?? "";
    const scale = 10n ** BigInt(frac.length);
    const scaled = (BigInt(m[1]!) * scale + BigInt(frac || "0")) << shift;
    if (scaled % scale !== 0n) throw new PlanInputError(`size "${text}" is not a whole number of bytes`);
    bytes = scaled / scale;
  }
  if (bytes === 0n) throw new PlanInputError("RAM size must be greater than 0");
  if (bytes > U64_MAX) throw new PlanInputError(`size "${text}" does not fit in 64 bits`);
  if (bytes % PAGE_SIZE !== 0n) {
    throw new PlanInputError(`RAM size ${bytes} (${formatSize(bytes)}) is not a multiple of 4 KiB`);
  }
  return bytes;
}
