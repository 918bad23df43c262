import { describe, expect, it } from "vitest";
import { IommuDomain } from "../../../src/core/domain.js";
import { deviceRead, deviceWrite } from "../../../src/core/dma/engine.js";
import { faultLogLines } from "../../../src/core/dma/fault.js";
import type { IommuUnit } from "../../../src/core/topology/types.js";
import { AddressSpace } from "../../../src/process/memory.js";
import { EduDevice, EDU_ID } from "../../../src/core/devices/edu.js";
import { PciFunction, regionOffset } from "../../../src/core/devices/pci-function.js";

function unit(kind: IommuUnit["kind"]): IommuUnit {
  return {
    name: "u0",
    kind,
    addressWidth: 39,
    aperture: { start: 0n, last: (1n << 39n) - 1n },
    pgsizeBitmap: 0x40201000n,
    enforceCacheCoherency: true,
    dirtyTracking: false,
    msiIsolation: true,
    driver: kind,
  };
}

const DEV = "0000:00:04.0";

function setup(kind: IommuUnit["kind"]) {
  const as = new AddressSpace();
  as.mmap(0x100000n, 0x10000n, "rw", { fill: 0x5a });
  const d = new IommuDomain(unit(kind));
  const seg = (va: bigint, len: bigint) => as.resolve(va, len, false);
  d.map(0x1000n, seg(0x100000n, 0x1000n), true, true); // rw
  d.map(0x2000n, seg(0x101000n, 0x1000n), true, false); // read-only
  d.map(0x3000n, seg(0x102000n, 0x1000n), false, true); // write-only
  return { as, d };
}

describe("DMA datapath", () => {
  it("moves real bytes both ways through the page table", () => {
    const { as, d } = setup("intel-vtd");
    const w = deviceWrite(d, DEV, 0x1800n, new Uint8Array([1, 2, 3]));
    expect(w.faults).toEqual([]);
    expect(as.read(0x100800n, 3)).toEqual(new Uint8Array([1, 2, 3]));
    const r = deviceRead(d, DEV, 0x17ffn, 3);
    expect(r.data).toEqual(new Uint8Array([0x5a, 1, 2]));
  });

  it("faults on unmapped IOVAs with VT-d reasons and leaves memory untouched", () => {
    const { d } = setup("intel-vtd");
    const r = deviceRead(d, DEV, 0x5000000n, 16);
    expect(r.data).toEqual(new Uint8Array(16));
    expect(r.faults.map((f) => f.reason)).toEqual([0x06]);
    const w = deviceWrite(d, DEV, 0x5000000n, new Uint8Array(4));
    expect(faultLogLines("intel-vtd", w.faults)).toEqual([
      "DMAR: DRHD: handling fault status reg 2",
      "DMAR: [DMA Write NO_PASID] Request device [00:04.0] fault addr 0x5000000 [fault reason 0x05] PTE Write access is not set",
    ]);
  });

  it("VT-d reads write-only mappings; virtio-iommu does not", () => {
    expect(deviceRead(setup("intel-vtd").d, DEV, 0x3000n, 8).faults).toEqual([]);
    expect(deviceRead(setup("virtio-iommu").d, DEV, 0x3000n, 8).faults).toHaveLength(1);
  });

  it("a write to a read-only page faults unless its translation is cached (QEMU VT-d)", () => {
    const { as, d } = setup("intel-vtd");
    expect(deviceWrite(d, DEV, 0x2000n, new Uint8Array([9])).faults).toHaveLength(1);
    deviceRead(d, DEV, 0x2000n, 1);
    const w = deviceWrite(d, DEV, 0x2000n, new Uint8Array([9]));
    expect(w.faults).toEqual([]);
    expect(w.transferred).toBe(0);
    expect(as.read(0x101000n, 1)[0]).toBe(0x5a);
    d.unmap(0x2000n, 0x2fffn);
    expect(deviceWrite(d, DEV, 0x2000n, new Uint8Array([9])).faults).toHaveLength(1);
  });

  it("x86 MSI window writes are interrupts, never memory", () => {
    const { d } = setup("intel-vtd");
    const w = deviceWrite(d, DEV, 0xfee00000n, new Uint8Array([0x41, 0, 0, 0]));
    expect(w.interrupts).toHaveLength(1);
    expect(w.faults).toEqual([]);
  });

  it("marks written pages dirty only while tracking", () => {
    const { d } = setup("intel-vtd");
    deviceWrite(d, DEV, 0x1000n, new Uint8Array(1));
    expect(d.readAndClearDirty(0n, 0xffffn)).toEqual([]);
    d.dirtyTracking = true;
    deviceWrite(d, DEV, 0x1000n, new Uint8Array(1));
    expect(d.readAndClearDirty(0n, 0xffffn)).toEqual([1n]);
    expect(d.readAndClearDirty(0n, 0xffffn)).toEqual([]);
  });

  it("pinned pages keep receiving DMA after the process unmaps them", () => {
    const { as, d } = setup("intel-vtd");
    as.munmap(0x100000n, 0x1000n);
    deviceWrite(d, DEV, 0x1000n, new Uint8Array([7]));
    expect(deviceRead(d, DEV, 0x1000n, 1).data[0]).toBe(7);
  });
});

describe("edu device behind a vfio-pci function", () => {
  it("copies between its buffer and IOVAs via BAR0, honouring bus mastering", () => {
    const { as, d } = setup("intel-vtd");
    as.write(0x100000n, new Uint8Array([0xaa, 0xbb]));
    let fn: PciFunction | undefined = undefined;
    const edu = new EduDevice({
      read: (iova, n) => (fn!.busMaster ? deviceRead(d, DEV, iova, n).data : new Uint8Array(n)),
      write: (iova, data) => {
        if (fn!.busMaster) deviceWrite(d, DEV, iova, data);
      },
    });
    fn = new PciFunction(DEV, 0x1234, 0x11e8, 0xff00, edu);
    const u32 = (v: number) => new Uint8Array(new Uint32Array([v]).buffer);
    expect(new DataView(fn.read(0n, 4)!.buffer).getUint32(0, true)).toBe(EDU_ID);
    // Bus mastering off: the command runs but no DMA reaches memory.
    fn.write(0x80n, u32(0x40000));
    fn.write(0x88n, u32(0x1000));
    fn.write(0x90n, u32(2));
    fn.write(0x98n, u32(3));
    expect(as.read(0x100000n, 2)).toEqual(new Uint8Array([0xaa, 0xbb]));
    fn.write(regionOffset(7) + 4n, new Uint8Array([0x07, 0x01]));
    expect(fn.command).toBe(0x107);
    fn.write(0x80n, u32(0x1000));
    fn.write(0x88n, u32(0x40000));
    fn.write(0x90n, u32(2));
    fn.write(0x98n, u32(1));
    expect(edu.buffer.slice(0, 2)).toEqual(new Uint8Array([0xaa, 0xbb]));
    fn.write(0x80n, u32(0x40000));
    fn.write(0x88n, u32(0x1800));
    fn.write(0x98n, u32(3));
    expect(as.read(0x100800n, 2)).toEqual(new Uint8Array([0xaa, 0xbb]));
    expect(new DataView(fn.read(0x98n, 4)!.buffer).getUint32(0, true) & 1).toBe(0);
    expect(fn.regionInfo(0)).toMatchObject({ flags: 7, size: 0x100000n, offset: 0n });
    expect(fn.regionInfo(7)).toMatchObject({ flags: 3, size: 0x100n, offset: 0x70000000000n });
    expect(fn.regionInfo(9)).toBeUndefined();
  });
});
