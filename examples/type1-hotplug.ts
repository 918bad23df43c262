/**
 * VFIO type1 hotplug refused: a container on a 48-bit VT-d unit maps memory above 512 GiB; a group
 * behind a 39-bit unit cannot join, because that mapping lies outside its aperture — the classic
 * "VFIO_MAP_DMA / SET_CONTAINER: Invalid argument" at hotplug. Run: npx tsx examples/type1-hotplug.ts
 */
import { IoasError, UserClient, createSystem, hex, twoIommuHost } from "../src/index.js";

export function main(log: (line: string) => void = console.log): void {
  const system = createSystem(twoIommuHost());
  const process = system.spawn();
  const client = new UserClient(process);
  process.memory.mmap(0x7f00_0000_0000n, 0x100000n, "rw");

  const container = client.open("/dev/vfio/vfio");
  const group1 = client.open("/dev/vfio/1"); // behind dmar0, 48-bit
  client.setContainer(group1, container);
  client.setIommu(container, 3); // VFIO_TYPE1v2_IOMMU
  const iova = 0x80_0000_0000n; // 512 GiB: fine for a 48-bit aperture
  client.mapDma(container, 0x7f00_0000_0000n, iova, 0x100000n, { read: true, write: true });
  log(`mapped 1 MiB at ${hex(iova)}`);

  const group3 = client.open("/dev/vfio/3"); // 0000:80:00.0 behind dmar1, 39-bit
  try {
    client.setContainer(group3, container);
    log("group 3 joined (unexpected)");
  } catch (e) {
    if (!(e instanceof IoasError)) throw e;
    log(`group 3 refused: ${e.errno} — the mapping at ${hex(iova)} is outside a 39-bit aperture`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
