import { describe, expect, it } from "vitest";
import { qemuQ35VtdHost } from "../../../src/core/topology/presets.js";
import { compatDiff, DEFAULT_SCENARIO } from "../../../src/core/vfio/compat-diff.js";
import type { Process } from "../../../src/process/process.js";
import {
  VFIO_GROUP_GET_DEVICE_FD,
  VFIO_GROUP_GET_STATUS,
  VFIO_GROUP_SET_CONTAINER,
  VFIO_GROUP_UNSET_CONTAINER,
  VFIO_IOMMU_GET_INFO,
  VFIO_IOMMU_MAP_DMA,
  VFIO_IOMMU_UNMAP_DMA,
  VFIO_SET_IOMMU,
} from "../../../src/uapi/numbers.js";
import { createSystem } from "../../../src/uapi/system.js";

const BUF = 0x7000_0000n;

function boot(kernelRelease: string) {
  const sys = createSystem(qemuQ35VtdHost({ kernelRelease }));
  const p = sys.spawn();
  p.memory.mmap(BUF, 0x10000n, "rw");
  p.memory.mmap(0x100_0000_0000n, 0x400000n, "rw");
  return { sys, p };
}

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

function struct(
  p: Process,
  fields: readonly (readonly [number, "u32" | "u64", bigint | number])[],
  size: number,
): bigint {
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  for (const [off, t, val] of fields) {
    if (t === "u32") v.setUint32(off, Number(val), true);
    else v.setBigUint64(off, BigInt(val), true);
  }
  p.memory.write(BUF, b);
  return BUF;
}

function configured(kernelRelease: string) {
  const { sys, p } = boot(kernelRelease);
  const container = p.open("/dev/vfio/vfio");
  const group = p.open("/dev/vfio/1");
  p.memory.write(BUF + 0x8000n, u32(container));
  expect(p.ioctl(group, VFIO_GROUP_SET_CONTAINER, BUF + 0x8000n).ret).toBe(0);
  expect(p.ioctl(container, VFIO_SET_IOMMU, 3n).ret).toBe(0);
  return { sys, p, container, group };
}

describe("/dev/vfio uAPI", () => {
  it("GET_INFO layout: 6.1 packed (84+16n, 20 header bytes) vs 6.12 aligned (88+16n, 24 bytes)", () => {
    for (const [release, total, header, iovaAt] of [
      ["6.1.0", 0x74, 20, 68],
      ["6.12.107", 0x78, 24, 72],
    ] as const) {
      const { p, container } = configured(release);
      const b = new Uint8Array(0x1000).fill(0xa5);
      new DataView(b.buffer).setUint32(0, 0x1000, true);
      p.memory.write(BUF, b);
      expect(p.ioctl(container, VFIO_IOMMU_GET_INFO, BUF).ret).toBe(0);
      const out = p.memory.read(BUF, 0x100);
      const v = new DataView(out.buffer);
      expect(v.getUint32(0, true)).toBe(0x1000);
      expect(v.getUint32(16, true)).toBe(24);
      expect(out[20]).toBe(header === 24 ? 0 : 0xa5); // 6.1 never writes the pad
      expect(v.getUint32(56 + 4, true)).toBe(iovaAt); // DMA_AVAIL.next
      expect(v.getUint16(iovaAt, true)).toBe(1);
      expect(v.getUint32(iovaAt + 8, true)).toBe(2); // two ranges
      // Small buffer: only the header, argsz = the total needed, no chain written.
      p.memory.write(BUF, new Uint8Array(0x100).fill(0xa5));
      p.memory.write(BUF, u32(24));
      expect(p.ioctl(container, VFIO_IOMMU_GET_INFO, BUF).ret).toBe(0);
      const small = p.memory.read(BUF, 32);
      expect(new DataView(small.buffer).getUint32(0, true)).toBe(total);
      expect(new DataView(small.buffer).getUint32(16, true)).toBe(0);
      expect(small[24]).toBe(0xa5);
    }
  });

  it("UNMAP writes back only on success", () => {
    const { p, container } = configured("6.12.107");
    struct(
      p,
      [
        [0, "u32", 32],
        [4, "u32", 3],
        [8, "u64", 0x100_0000_0000n],
        [16, "u64", 0x100000n],
        [24, "u64", 0x4000n],
      ],
      32,
    );
    expect(p.ioctl(container, VFIO_IOMMU_MAP_DMA, BUF).ret).toBe(0);
    struct(
      p,
      [
        [0, "u32", 24],
        [8, "u64", 0x101000n],
        [16, "u64", 0x1000n],
      ],
      24,
    );
    expect(p.ioctl(container, VFIO_IOMMU_UNMAP_DMA, BUF).errno).toBe("EINVAL");
    expect(new DataView(p.memory.read(BUF, 24).buffer).getBigUint64(16, true)).toBe(0x1000n);
    struct(
      p,
      [
        [0, "u32", 24],
        [8, "u64", 0x100000n],
        [16, "u64", 0x10000n],
      ],
      24,
    );
    expect(p.ioctl(container, VFIO_IOMMU_UNMAP_DMA, BUF).ret).toBe(0);
    expect(new DataView(p.memory.read(BUF, 24).buffer).getBigUint64(16, true)).toBe(0x4000n);
  });

  it("group: second open EBUSY, SET_CONTAINER EBADF/EINVAL vs EBADFD, UNSET EBUSY with a device open", () => {
    for (const [release, badfd] of [
      ["6.1.0", "EINVAL"],
      ["6.12.107", "EBADFD"],
    ] as const) {
      const { p } = boot(release);
      const group = p.open("/dev/vfio/1");
      expect(p.syscall(() => p.open("/dev/vfio/1")).errno).toBe("EBUSY");
      p.memory.write(BUF, u32(0xffffffff));
      expect(p.ioctl(group, VFIO_GROUP_SET_CONTAINER, BUF).errno).toBe("EBADF");
      p.memory.write(BUF, u32(group));
      expect(p.ioctl(group, VFIO_GROUP_SET_CONTAINER, BUF).errno).toBe(badfd);
      const container = p.open("/dev/vfio/vfio");
      p.memory.write(BUF, u32(container));
      expect(p.ioctl(group, VFIO_GROUP_SET_CONTAINER, BUF).ret).toBe(0);
      expect(p.ioctl(group, VFIO_GROUP_SET_CONTAINER, BUF).errno).toBe("EINVAL");
      p.memory.write(BUF + 0x100n, new TextEncoder().encode("0000:00:04.0\0"));
      expect(p.ioctl(group, VFIO_GROUP_GET_DEVICE_FD, BUF + 0x100n).errno).toBe("EINVAL"); // no backend yet
      expect(p.ioctl(container, VFIO_SET_IOMMU, 3n).ret).toBe(0);
      const dev = p.ioctl(group, VFIO_GROUP_GET_DEVICE_FD, BUF + 0x100n).ret;
      expect(dev).toBeGreaterThan(0);
      expect(p.ioctl(group, VFIO_GROUP_UNSET_CONTAINER, 0n).errno).toBe("EBUSY");
      // Closing the group fd while the device fd is open keeps the group attached.
      p.close(group);
      expect(p.syscall(() => p.open("/dev/vfio/1")).errno).toBe("EBUSY");
      p.close(dev);
      const again = p.open("/dev/vfio/1");
      p.memory.write(BUF, u32(4));
      expect(p.ioctl(again, VFIO_GROUP_GET_STATUS, BUF).errno).toBe("EINVAL");
      p.memory.write(BUF, new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0]));
      expect(p.ioctl(again, VFIO_GROUP_GET_STATUS, BUF).ret).toBe(0);
      expect(p.memory.read(BUF + 4n, 1)[0]).toBe(1); // VIABLE only: the container was dropped
    }
  });
});

describe("compat-diff", () => {
  it("lists the divergences of the built-in scenario", () => {
    const r = compatDiff(qemuQ35VtdHost(), DEFAULT_SCENARIO);
    expect(r.setup.type1.errno).toBeNull();
    expect(r.setup.compat.errno).toBeNull();
    const byStep = Object.fromEntries(
      r.steps.map((s) => [s.step, [s.type1.errno ?? s.type1.result, s.compat.errno ?? s.compat.result]]),
    );
    expect(byStep["check extension 10"]).toEqual(["1", "0"]);
    expect(byStep["unmap iova=0x101000 size=0x1000"]).toEqual(["EINVAL", "ENOENT"]);
    // A map with neither READ nor WRITE: type1 refuses the flags, compat reaches VT-d, which refuses it.
    expect(byStep["map iova=0x200000 size=0x1000 vaddr=0x10000000000 --"]).toEqual(["EINVAL", "EINVAL"]);
    expect(r.differences).toBe(2);
  });
});
