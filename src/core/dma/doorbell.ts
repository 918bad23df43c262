/**
 * The interrupt controller's MSI doorbell page (e.g. the ARM GICv3 ITS translater) as it appears
 * inside a domain's software-MSI window: a device write that translates to it is an interrupt
 * request, not memory. One object per host interrupt controller; every domain maps the same one.
 */

import { MemoryObject } from "../../process/memory.js";
import { PAGE_SIZE } from "../u64.js";

export class MsiDoorbell extends MemoryObject {
  constructor() {
    super(PAGE_SIZE, 0);
  }
}

/** The host's doorbell page (one interrupt controller). */
export const HOST_MSI_DOORBELL = new MsiDoorbell();
