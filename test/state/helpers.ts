/** Hosts for the state tests. */

import { qemuQ35VtdHost } from "../../src/core/topology/presets.js";
import type { Host } from "../../src/core/topology/types.js";

/** The vectors' reference guest (edu devices, iommufd, cdevs). */
export function presetHost(): Host {
  return qemuQ35VtdHost();
}
