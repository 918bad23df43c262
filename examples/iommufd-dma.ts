/**
 * iommufd from a user process, through the byte-exact uAPI: allocate an IOAS, bind and attach a
 * VFIO device cdev, read the usable IOVA ranges, map memory at an automatic IOVA, let the device
 * DMA into it, and watch a fault when it strays. Run: npx tsx examples/iommufd-dma.ts
 */
import { UserClient, createSystem, hex, qemuQ35VtdHost } from "../src/index.js";

export function main(log: (line: string) => void = console.log): void {
  const system = createSystem(qemuQ35VtdHost()); // QEMU q35 + VT-d (39-bit), the vectors' host
  const process = system.spawn();
  const client = new UserClient(process);
  const buffer = 0x7f00_0000_0000n;
  process.memory.mmap(buffer, 0x200000n, "rw"); // 2 MiB of anonymous memory

  const iommufd = client.open("/dev/iommu");
  const ioas = client.ioasAlloc(iommufd);
  const cdev = client.open("/dev/vfio/devices/vfio0"); // 0000:00:04.0, an edu device
  const devId = client.bind(cdev, iommufd);
  const hwpt = client.attach(cdev, ioas); // the kernel picks (or creates) an automatic HWPT
  log(`ioas ${ioas}, device ${devId} attached through hwpt ${hwpt}`);

  const { ranges, alignment } = client.ioasIovaRanges(iommufd, ioas);
  log(
    `usable: ${ranges.map((r) => `[${hex(r.start)}, ${hex(r.last)}]`).join(" ")} alignment ${hex(alignment)}`,
  );

  const iova = client.ioasMap(iommufd, ioas, buffer, 0x200000n, { read: true, write: true });
  log(`mapped 2 MiB at IOVA ${hex(iova)}`);

  const dma = system.kernel.devices.dma("0000:00:04.0")!;
  dma.write(iova + 0x10n, new TextEncoder().encode("hello"));
  log(`process sees: ${new TextDecoder().decode(process.memory.read(buffer + 0x10n, 5))}`);

  const stray = dma.write(0x4000_0000n, new Uint8Array(4)); // nothing mapped there
  log(`stray write: ${stray.faults.length} fault(s); kernel log: ${system.kernel.kmsg.since(0).join(" | ")}`);

  log(`unmapped ${hex(client.ioasUnmap(iommufd, ioas, iova, 0x200000n))} bytes`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
