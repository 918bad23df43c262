/**
 * Which IOMMU page sizes a mapping uses, computed arithmetically from its extent (never by walking
 * pages): the kernel's iommu_pgsize rule — at each IOVA, use the largest supported page size to which
 * both the IOVA and the physical address are aligned and that still fits in what is left.
 *
 * `physical` is the address the first byte maps to (for user memory: its offset inside a physically
 * contiguous run; pass the IOVA itself to ask "what could this IOVA layout allow at best").
 * `maxPageSize` caps the choice (iommufd HUGE_PAGES off / type1 disable_hugepages → PAGE_SIZE).
 */

export interface PageSizeUse {
  readonly pageSize: bigint;
  readonly count: bigint;
}

function sizesOf(bitmap: bigint, maxPageSize?: bigint): bigint[] {
  const out: bigint[] = [];
  for (let bit = 0n; bit < 64n; bit++) {
    const size = 1n << bit;
    if ((bitmap & size) !== 0n && (maxPageSize === undefined || size <= maxPageSize)) out.push(size);
  }
  return out.reverse(); // largest first
}

export function decomposePageSizes(
  iova: bigint,
  length: bigint,
  pgsizeBitmap: bigint,
  physical: bigint = iova,
  maxPageSize?: bigint,
): PageSizeUse[] {
  const sizes = sizesOf(pgsizeBitmap, maxPageSize);
  const counts = new Map<bigint, bigint>();
  const smallest = sizes[sizes.length - 1];
  if (smallest === undefined || length <= 0n) return [];
  if ((iova | physical | length) % smallest !== 0n) {
    throw new RangeError("iova, physical address and length must be multiples of the smallest page size");
  }
  const add = (size: bigint, n: bigint): void => {
    if (n > 0n) counts.set(size, (counts.get(size) ?? 0n) + n);
  };
  // Only the low bits where iova and physical differ limit the page size for the whole run.
  const walk = (start: bigint, phys: bigint, len: bigint, from: number): void => {
    for (let i = from; i < sizes.length && len > 0n; i++) {
      const size = sizes[i]!;
      if ((start - phys) % size !== 0n) continue; // never co-aligned: a smaller size must do
      const head = (size - (start % size)) % size;
      if (head + size > len) continue;
      walk(start, phys, head, i + 1);
      const body = (len - head) / size;
      add(size, body);
      const used = head + body * size;
      walk(start + used, phys + used, len - used, i + 1);
      return;
    }
    if (len > 0n) add(smallest, len / smallest);
  };
  walk(iova, physical, length, 0);
  return sizes.filter((s) => counts.has(s)).map((s) => ({ pageSize: s, count: counts.get(s)! }));
}
