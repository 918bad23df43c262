/**
 * Text forms shared by the view model, the SVG renderer and the browser page.
 *
 * The view model carries every address and length as a lower-case `0x` hex string (JSON has no
 * bigint); lengths can reach 2^64, one past the u64 range, so `parseHex` accepts that too.
 */

export function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

export function parseHex(s: string): bigint {
  const t = s.trim().replace(/_/g, "");
  if (!/^0x[0-9a-f]+$/i.test(t) && !/^[0-9]+$/.test(t)) throw new RangeError(`not a hex address: ${s}`);
  return BigInt(t);
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"] as const;

/** "4 KiB", "16 EiB" when exact; "≈1.5 GiB" (three significant digits) otherwise. */
export function humanSize(bytes: bigint): string {
  let unit = 0;
  while (unit < UNITS.length - 1 && bytes >= 1n << (10n * BigInt(unit + 1))) unit++;
  const div = 1n << (10n * BigInt(unit));
  const whole = bytes / div;
  const name = UNITS[unit]!;
  if (bytes % div === 0n) return `${whole} ${name}`;
  const value = Number(bytes) / Number(div);
  const digits = value >= 100 ? Math.round(value).toString() : value.toPrecision(3);
  return `≈${digits.includes(".") ? digits.replace(/\.?0+$/, "") : digits} ${name}`;
}

/** Page sizes of an IOMMU pgsize bitmap, smallest first: "4K 2M 1G". */
export function pageSizesText(bitmap: bigint): string {
  const out: string[] = [];
  for (let bit = 0n; bit < 64n; bit++) {
    if ((bitmap & (1n << bit)) === 0n) continue;
    const h = humanSize(1n << bit)
      .replace(/ ([KMGTPE])iB$/, "$1")
      .replace(/ B$/, "");
    out.push(h);
  }
  return out.join(" ") || "none";
}
