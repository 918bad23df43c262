import { describe, expect, it } from "vitest";
import { Kernel } from "../../src/uapi/system.js";
import { qemuQ35VtdHost } from "../../src/core/topology/presets.js";
import { pciDeviceIoctl, pciDevicePread, pciDevicePwrite } from "../../src/uapi/vfio-device/pci-ops.js";
import { VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_REGION_INFO } from "../../src/uapi/numbers.js";
import { vfioDeviceInfo, vfioRegionInfo } from "../../src/uapi/structs/vfio.js";
import type { OpenFile } from "../../src/uapi/file.js";

const ARG = 0x7000_0000n;

function setup() {
  const kernel = new Kernel(qemuQ35VtdHost());
  const fn = kernel.devices.function("0000:00:04.0")!;
  const file: OpenFile = {
    kind: "vfio-device",
    ioctl: (call) => pciDeviceIoctl(fn, call) ?? 0,
    release: () => {},
  };
  kernel.registerNode(/^\/dev\/test$/, () => file);
  const p = kernel.spawn();
  p.memory.mmap(ARG, 0x1000n, "rw", { fill: 0xa5 });
  const fd = kernel.open(p, "/dev/test");
  return { kernel, fn, p, fd };
}

describe("vfio-pci device fd ops", () => {
  it("GET_INFO writes min(argsz, 24) bytes: 9 regions, 5 IRQs, PCI flag", () => {
    const { p, fd } = setup();
    p.memory.write(ARG, vfioDeviceInfo.encode({ argsz: 0x18 }));
    expect(p.ioctl(fd, VFIO_DEVICE_GET_INFO, ARG)).toEqual({ ret: 0, errno: null });
    expect(vfioDeviceInfo.decode(p.memory.read(ARG, 24))).toMatchObject({
      argsz: 0x18,
      flags: 2,
      num_regions: 9,
      num_irqs: 5,
      cap_offset: 0,
    });
    // argsz 16: cap_offset not written (still the caller's bytes)
    p.memory.write(ARG, new Uint8Array(24).fill(0xa5));
    p.memory.write(ARG, new Uint8Array([16, 0, 0, 0]));
    p.ioctl(fd, VFIO_DEVICE_GET_INFO, ARG);
    expect(vfioDeviceInfo.decode(p.memory.read(ARG, 24)).cap_offset).toBe(0xa5a5a5a5);
    p.memory.write(ARG, new Uint8Array([15, 0, 0, 0]));
    expect(p.ioctl(fd, VFIO_DEVICE_GET_INFO, ARG)).toEqual({ ret: -1, errno: "EINVAL" });
    expect(p.ioctl(fd, VFIO_DEVICE_GET_INFO, 0n)).toEqual({ ret: -1, errno: "EFAULT" });
  });

  it("GET_REGION_INFO for BAR0, config, an empty BAR and a missing region", () => {
    const { p, fd } = setup();
    const ask = (index: number) => {
      p.memory.write(ARG, vfioRegionInfo.encode({ argsz: 0x20, index }));
      const r = p.ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, ARG);
      return { r, info: vfioRegionInfo.decode(p.memory.read(ARG, 32)) };
    };
    expect(ask(0).info).toMatchObject({ flags: 7, size: 0x100000n, offset: 0n });
    expect(ask(7).info).toMatchObject({ flags: 3, size: 0x100n, offset: 0x70000000000n });
    expect(ask(2).info).toMatchObject({ flags: 0, size: 0n, offset: 0x20000000000n });
    expect(ask(8).r).toEqual({ ret: -1, errno: "EINVAL" });
    expect(ask(9).r).toEqual({ ret: -1, errno: "EINVAL" });
  });

  it("config space and BAR0 through pread/pwrite; outside the regions is EINVAL", () => {
    const { fn } = setup();
    const cmd = pciDevicePread(fn, 0x70000000004n, 2);
    expect(cmd).toEqual(new Uint8Array([0x03, 0x01]));
    pciDevicePwrite(fn, 0x70000000004n, new Uint8Array([0x07, 0x01]));
    expect(fn.busMaster).toBe(true);
    expect(new DataView(pciDevicePread(fn, 0n, 4).buffer).getUint32(0, true)).toBe(0x010000ed);
    expect(() => pciDevicePread(fn, 0x20000000000n, 4)).toThrow(/outside/);
    expect(() => pciDevicePwrite(fn, 0x100000n, new Uint8Array(4))).toThrow(/outside/);
  });
});
