/**
 * A domain's IOTLB: IOMMU pages whose translation a device used recently.
 *
 * Modelled because it is observable on QEMU's emulated VT-d: a cached translation's permissions are
 * checked by the memory core, not by the IOMMU, so a write to a read-only page whose translation is
 * cached is dropped without a fault being logged; an uncached one faults (reason 0x05). Unmap
 * invalidates the range, as the kernel's IOTLB flush does.
 */

export class Iotlb {
  private readonly pages = new Set<bigint>();

  has(page: bigint): boolean {
    return this.pages.has(page);
  }

  fill(page: bigint): void {
    this.pages.add(page);
  }

  /** Page-selective invalidation of pages [firstPage, lastPage]. */
  invalidate(firstPage: bigint, lastPage: bigint): void {
    if (this.pages.size === 0) return;
    if (lastPage - firstPage > BigInt(this.pages.size)) {
      for (const p of [...this.pages]) if (p >= firstPage && p <= lastPage) this.pages.delete(p);
    } else {
      for (let p = firstPage; p <= lastPage; p++) this.pages.delete(p);
    }
  }

  clear(): void {
    this.pages.clear();
  }

  get size(): number {
    return this.pages.size;
  }
}
