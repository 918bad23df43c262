/**
 * Parser of the vectors' `<run>-sysfs.txt` dumps (FORMAT.md §2): the host as the guest kernel saw it.
 *
 *   kernel: <release>            group <N> / type: / reserved_regions: / <regions> / device <bdf> ...
 *   iommu <name> / cap: / ecap: / devices: ...      virtio <name> ... driver=virtio_iommu parent=<bdf>
 *   /dev/vfio: <ls -l listing>   /dev/iommu: <ls -l line>   param <sysfs path> = <value>
 *
 * A `run.json`-style object may complete or override it (kernel release, interrupt remapping,
 * address width, virtio-iommu, allow_unsafe_interrupts).
 */

import type { Host } from "../core/topology/types.js";
import { vtdCapFor, vtdEcapFor, vtdInterruptRemapping, vtdMgaw } from "../core/topology/vtd.js";
import { HostReadError } from "./errors.js";
import {
  PARAM,
  hostFromFacts,
  parsePciId,
  parseRegionLine,
  type DeviceFacts,
  type RawRegion,
  type SysfsFacts,
  type UnitFacts,
} from "./sysfs-facts.js";

/** The fields of a vectors `<run>-run.json` this parser uses (all optional). */
export interface RunJson {
  readonly kernel?: string;
  readonly iommu?: string;
  readonly intremap?: boolean | null;
  readonly aw_bits?: number | null;
  readonly allow_unsafe_interrupts?: { readonly vfio_iommu_type1?: boolean; readonly iommufd?: boolean };
}

interface GroupDraft {
  id: number;
  type: string | null;
  regions: RawRegion[] | null;
  devices: string[];
  line: number;
}

interface UnitDraft {
  name: string;
  cap?: bigint;
  ecap?: bigint;
  devices: string[];
  line: number;
}

const DEVICE_LINE =
  /^device ([0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) 0x([0-9a-fA-F]{4}):0x([0-9a-fA-F]{4}) class=0x([0-9a-fA-F]{6}) driver=(\S+)$/;
const VIRTIO_LINE = /^virtio (\S+) device=0x([0-9a-fA-F]+) vendor=0x[0-9a-fA-F]+ driver=(\S+) parent=(\S+)$/;
const PARAM_LINE = /^param (\/sys\/module\/\S+) = (.*)$/;
/** virtio device id of virtio-iommu (VIRTIO_ID_IOMMU). */
const VIRTIO_ID_IOMMU = 0x17;
/** THP of the reference guests (Debian x86-64 kernels: CONFIG_TRANSPARENT_HUGEPAGE, PMD 2 MiB). */
const X86_THP = 2n << 20n;

function hexReg(value: string, file: string, line: number): bigint {
  const v = value.trim();
  if (!/^(0x)?[0-9a-fA-F]{1,16}$/.test(v))
    throw new HostReadError(file, `expected a hex register, got ${JSON.stringify(v)}`, line);
  return BigInt(v.startsWith("0x") ? v : "0x" + v);
}

export function parseSysfsDump(text: string, file = "sysfs dump"): SysfsFacts {
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  let kernel: string | null = null;
  const groups: GroupDraft[] = [];
  const units: UnitDraft[] = [];
  const virtio: { parent: string; isIommu: boolean }[] = [];
  const devices: DeviceFacts[] = [];
  const params: SysfsFacts["params"] = new Map();
  let section: "none" | "group" | "regions" | "iommu" | "virtio" | "vfio" | "vfio-devices" = "none";
  let vfioDevicesDir = false;
  const cdevNames: string[] = [];
  let devIommu = false;

  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.replace(/\s+$/, "");
    if (line === "") return;
    const indent = raw.length - raw.trimStart().length;
    const t = line.trim();
    if (indent === 0) {
      section = "none";
      let m: RegExpExecArray | null;
      if ((m = /^kernel: (\S+)$/.exec(t))) kernel = m[1]!;
      else if (t.startsWith("cmdline:")) return;
      else if ((m = /^group (\d+)$/.exec(t))) {
        if (groups.some((g) => g.id === Number(m![1])))
          throw new HostReadError(file, `group ${m[1]} listed twice`, n);
        groups.push({ id: Number(m[1]), type: null, regions: null, devices: [], line: n });
        section = "group";
      } else if ((m = /^iommu (\S+)$/.exec(t))) {
        units.push({ name: m[1]!, devices: [], line: n });
        section = "iommu";
      } else if ((m = VIRTIO_LINE.exec(t))) {
        virtio.push({
          parent: m[4]!,
          isIommu: Number("0x" + m[2]) === VIRTIO_ID_IOMMU || m[3] === "virtio_iommu",
        });
        section = "virtio";
      } else if (t === "/dev/vfio:") section = "vfio";
      else if ((m = /^\/dev\/iommu: (.*)$/.exec(t)))
        devIommu = /^c/.test(m[1]!) && !/No such file/.test(m[1]!);
      else if ((m = PARAM_LINE.exec(t))) params.set(m[1]!, { value: m[2]!, file, line: n });
      else throw new HostReadError(file, `unrecognised line ${JSON.stringify(t)}`, n);
      return;
    }
    const group = groups[groups.length - 1];
    const unit = units[units.length - 1];
    switch (section) {
      case "group":
      case "regions": {
        let m: RegExpExecArray | null;
        if ((m = /^type: (\S+)$/.exec(t))) group!.type = m[1]!;
        else if (t === "reserved_regions:") {
          group!.regions = [];
          section = "regions";
        } else if (section === "regions" && indent >= 4 && t.startsWith("0x")) {
          group!.regions!.push(parseRegionLine(t, file, n));
        } else if ((m = DEVICE_LINE.exec(t))) {
          devices.push({
            bdf: m[1]!,
            vendor: parsePciId("0x" + m[2], file, n),
            device: parsePciId("0x" + m[3], file, n),
            class: parsePciId("0x" + m[4], file, n, 0xffffff),
            driver: m[5] === "none" ? null : m[5]!,
            group: group!.id,
          });
          group!.devices.push(m[1]!);
          section = "group";
        } else
          throw new HostReadError(file, `unrecognised line in group ${group!.id}: ${JSON.stringify(t)}`, n);
        return;
      }
      case "iommu": {
        const m = /^([a-z_]+):\s*(.*)$/.exec(t);
        if (!m)
          throw new HostReadError(file, `unrecognised line in iommu ${unit!.name}: ${JSON.stringify(t)}`, n);
        if (m[1] === "cap") unit!.cap = hexReg(m[2]!, file, n);
        else if (m[1] === "ecap") unit!.ecap = hexReg(m[2]!, file, n);
        else if (m[1] === "devices") unit!.devices = m[2]!.split(/\s+/).filter((s) => s !== "");
        return;
      }
      case "virtio":
        return; // feature bits: not needed
      case "vfio":
      case "vfio-devices": {
        if (t === "/dev/vfio/devices:") {
          vfioDevicesDir = true;
          section = "vfio-devices";
        } else if (section === "vfio-devices" && /^c/.test(t)) cdevNames.push(t.split(/\s+/).pop()!);
        return;
      }
      case "none":
        throw new HostReadError(file, `indented line outside any section: ${JSON.stringify(t)}`, n);
    }
  });

  for (const g of groups) {
    if (g.type === null)
      throw new HostReadError(file, `group ${g.id} has no "type:" line (truncated dump?)`, g.line);
    if (g.regions === null) {
      throw new HostReadError(
        file,
        `group ${g.id} has no "reserved_regions:" block (truncated dump?)`,
        g.line,
      );
    }
  }
  const unitFacts: UnitFacts[] = units.map((u) => {
    const isVirtio = virtio.some((v) => v.isIommu && v.parent === u.name);
    const kind: UnitFacts["kind"] =
      u.cap !== undefined || u.ecap !== undefined || /^dmar\d+$/.test(u.name)
        ? "intel-vtd"
        : isVirtio
          ? "virtio-iommu"
          : /^ivhd\d+$/.test(u.name)
            ? "amd-vi"
            : /^smmu3\./.test(u.name)
              ? "arm-smmu-v3"
              : (() => {
                  throw new HostReadError(file, `cannot tell what kind of IOMMU ${u.name} is`, u.line);
                })();
    if (kind === "intel-vtd" && (u.cap === undefined || u.ecap === undefined)) {
      throw new HostReadError(file, `VT-d unit ${u.name} lacks its cap or ecap line`, u.line);
    }
    return {
      name: u.name,
      kind,
      ...(u.cap !== undefined ? { cap: u.cap, ecap: u.ecap! } : {}),
      devices: u.devices,
    };
  });
  return {
    name: `dump ${file}`,
    notes: [],
    kernelRelease: kernel,
    units: unitFacts,
    groups: groups.map((g) => ({ id: g.id, type: g.type!, regions: g.regions!, devices: g.devices })),
    devices,
    params,
    vfioDevicesDir,
    cdevNames,
    devIommu,
    thpSize: X86_THP,
  };
}

/** Fold a run.json into the facts: it wins, and must agree with the registers it can be checked against. */
function applyRunJson(facts: SysfsFacts, run: RunJson, file: string): SysfsFacts {
  const units = facts.units.map((u): UnitFacts => {
    if (run.iommu === "virtio-iommu" && u.cap === undefined) return { ...u, kind: "virtio-iommu" };
    if (u.kind !== "intel-vtd") return u;
    const aw = run.aw_bits ?? undefined;
    const cap = u.cap ?? vtdCapFor(aw ?? 39);
    if (aw !== undefined && vtdMgaw(cap) !== aw) {
      throw new HostReadError(
        file,
        `run.json aw_bits ${aw} disagrees with ${u.name} cap (MGAW ${vtdMgaw(cap)})`,
      );
    }
    const ir = run.intremap ?? undefined;
    const ecap = u.ecap ?? vtdEcapFor({ interruptRemapping: ir ?? true });
    if (ir !== undefined && vtdInterruptRemapping(ecap) !== ir) {
      throw new HostReadError(file, `run.json intremap ${ir} disagrees with ${u.name} ecap bit 3`);
    }
    return { ...u, cap, ecap };
  });
  const params = new Map(facts.params);
  const unsafe = run.allow_unsafe_interrupts;
  if (unsafe?.vfio_iommu_type1 !== undefined) {
    params.set(PARAM.type1Unsafe, { value: unsafe.vfio_iommu_type1 ? "Y" : "N", file: `${file} run.json` });
  }
  // iommufd's parameter exists only on kernels with iommufd; run.json says false on 6.1 too.
  if (unsafe?.iommufd !== undefined && params.has(PARAM.iommufdUnsafe)) {
    params.set(PARAM.iommufdUnsafe, { value: unsafe.iommufd ? "Y" : "N", file: `${file} run.json` });
  }
  return { ...facts, units, params, kernelRelease: run.kernel ?? facts.kernelRelease };
}

/** The Host a `<run>-sysfs.txt` dump (plus optionally its `<run>-run.json`) describes. */
export function hostFromSysfsDump(text: string, runJson?: RunJson, file = "sysfs dump"): Host {
  let facts = parseSysfsDump(text, file);
  if (runJson) facts = applyRunJson(facts, runJson, file);
  if (facts.kernelRelease === null) throw new HostReadError(file, `no "kernel:" line and no run.json kernel`);
  return hostFromFacts(facts);
}
