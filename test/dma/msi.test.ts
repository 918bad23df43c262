/**
 * MSI through the DMA datapath: on x86 a write into the hardware MSI window is an interrupt
 * request; on a software-MSI platform (ARM SMMUv3) it goes through the doorbell page mapped in the
 * device's domain at the sw-MSI window — for type1 containers and iommufd HWPTs alike.
 */

import { describe, expect, it } from "vitest";
import { UserClient } from "../../src/client/user-api.js";
import { PRESETS, qemuQ35VtdHost } from "../../src/core/topology/presets.js";
import { createSystem } from "../../src/uapi/system.js";

const MEM = 0x100_0000_0000n;

function armSystem() {
  const sys = createSystem(PRESETS["arm-smmu-v3"]!.build());
  const p = sys.spawn();
  p.memory.mmap(MEM, 0x10000n, "rw");
  return { sys, p, client: new UserClient(p) };
}

describe("MSI writes", () => {
  it("type1 on SMMUv3: the doorbell at the sw-MSI window takes the write as an interrupt", () => {
    const { sys, p, client } = armSystem();
    const container = client.open("/dev/vfio/vfio");
    const group = client.open("/dev/vfio/1");
    client.setContainer(group, container);
    client.setIommu(container, 3);
    const dma = sys.kernel.devices.dma("0000:01:00.0")!;
    const out = dma.write(0x8000040n, new Uint8Array([1, 0, 0, 0]));
    expect(out.faults).toEqual([]);
    expect(out.interrupts).toHaveLength(1);
    expect(out.interrupts[0]!.address).toBe(0x8000040n);
    // The window is not usable for user mappings: type1 refuses a map there.
    expect(() => client.mapDma(container, MEM, 0x8000000n, 0x1000n, { read: true, write: true })).toThrow(
      /EINVAL/,
    );
    // Reads of the doorbell are not permitted.
    expect(dma.read(0x8000040n, 4).faults).toHaveLength(1);
    expect(p.memory.read(MEM, 4)).toEqual(new Uint8Array(4));
  });

  it("iommufd on SMMUv3: the attached HWPT's domain carries the doorbell", () => {
    const { sys, client } = armSystem();
    const fd = client.open("/dev/iommu");
    const ioas = client.ioasAlloc(fd);
    const cdev = client.open("/dev/vfio/devices/vfio0");
    client.bind(cdev, fd);
    client.attach(cdev, ioas);
    const out = sys.kernel.devices.dma("0000:01:00.0")!.write(0x8000000n, new Uint8Array(4));
    expect(out.interrupts).toHaveLength(1);
    expect(sys.kernel.devices.interrupts).toHaveLength(1);
    // The sw-MSI window is a reserved hole of the IOAS.
    const { ranges } = client.ioasIovaRanges(fd, ioas);
    expect(ranges.some((r) => r.start <= 0x8000000n && 0x8000000n <= r.last)).toBe(false);
  });

  it("x86: the hardware MSI window is decoded by the platform, never mapped", () => {
    const sys = createSystem(qemuQ35VtdHost());
    const client = new UserClient(sys.spawn());
    const fd = client.open("/dev/iommu");
    const ioas = client.ioasAlloc(fd);
    const cdev = client.open("/dev/vfio/devices/vfio0");
    client.bind(cdev, fd);
    client.attach(cdev, ioas);
    const out = sys.kernel.devices.dma("0000:00:04.0")!.write(0xfee00000n, new Uint8Array(4));
    expect(out.interrupts).toHaveLength(1);
    expect(out.faults).toEqual([]);
  });
});
