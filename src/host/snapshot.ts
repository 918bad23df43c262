/**
 * Host snapshots: versioned JSON, bigints as "0x…" strings.
 *
 *   { "format": "ioas-host", "version": 1, "host": { name, description?, params, iommus, devices, groups } }
 *
 * Loading is strict: wrong format, a future version, unknown or missing keys and wrong types are
 * refused with the JSON path of the culprit; the decoded host must then pass `validateHost`.
 */

import { readFileSync, writeFileSync } from "node:fs";
import { U64_MAX } from "../core/u64.js";
import { validateHost } from "../core/topology/validate.js";
import {
  RESERVED_TYPE_ORDER,
  type Host,
  type HostParams,
  type IommuGroup,
  type IommuKind,
  type IommuUnit,
  type PciDevice,
  type ReservedRegion,
} from "../core/topology/types.js";
import { HostReadError } from "./errors.js";

export const SNAPSHOT_FORMAT = "ioas-host";
export const SNAPSHOT_VERSION = 1;

const KINDS: readonly IommuKind[] = ["intel-vtd", "amd-vi", "arm-smmu-v3", "virtio-iommu", "s390", "none"];

/** The host as plain JSON (bigints → "0x…"), as snapshots and `--json` outputs carry it. */
export function hostToJson(host: Host): unknown {
  return JSON.parse(
    JSON.stringify(host, (_k, v: unknown) => (typeof v === "bigint" ? "0x" + v.toString(16) : v)),
  );
}

export function snapshotToText(host: Host): string {
  return (
    JSON.stringify({ format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, host: hostToJson(host) }, null, 2) +
    "\n"
  );
}

export function saveSnapshot(path: string, host: Host): void {
  try {
    writeFileSync(path, snapshotToText(host));
  } catch (e) {
    throw new HostReadError(path, `cannot write: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** A short description of a JSON value for error messages; never walks a deep or huge value. */
function preview(v: unknown): string {
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === "object" && v !== null) return "an object";
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 40 ? text.slice(0, 40) + "…" : text;
}

/** Walks a JSON value, failing with the path of the offending field. */
class Field {
  constructor(
    readonly file: string,
    readonly path: string,
    readonly value: unknown,
  ) {}

  fail(expected: string): never {
    const got = preview(this.value);
    throw new HostReadError(this.file, `${this.path}: expected ${expected}, got ${got}`);
  }

  object(keys: readonly string[], optional: readonly string[] = []): (k: string) => Field {
    const v = this.value;
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail("an object");
    const rec = v as Record<string, unknown>;
    for (const k of Object.keys(rec)) {
      if (!keys.includes(k) && !optional.includes(k)) {
        throw new HostReadError(this.file, `${this.path}: unknown key "${k}"`);
      }
    }
    for (const k of keys)
      if (!(k in rec)) throw new HostReadError(this.file, `${this.path}: missing key "${k}"`);
    return (k) => new Field(this.file, `${this.path}.${k}`, rec[k]);
  }

  has(k: string): boolean {
    return typeof this.value === "object" && this.value !== null && k in this.value;
  }

  array(): Field[] {
    if (!Array.isArray(this.value)) this.fail("an array");
    return (this.value as unknown[]).map((x, i) => new Field(this.file, `${this.path}[${i}]`, x));
  }

  string(): string {
    return typeof this.value === "string" ? this.value : this.fail("a string");
  }

  bool(): boolean {
    return typeof this.value === "boolean" ? this.value : this.fail("true or false");
  }

  int(min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.value;
    return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max
      ? v
      : this.fail(`an integer in ${min}..${max}`);
  }

  u64(): bigint {
    const v = this.value;
    if (typeof v !== "string" || !/^0x[0-9a-f]{1,16}$/.test(v))
      this.fail('a "0x…" lowercase hex string (u64)');
    const b = BigInt(v as string);
    return b <= U64_MAX ? b : this.fail("a u64");
  }

  oneOf<T extends string>(values: readonly T[]): T {
    const s = this.string();
    return (values as readonly string[]).includes(s) ? (s as T) : this.fail(values.join(" | "));
  }

  nullable<T>(f: (x: Field) => T): T | null {
    return this.value === null ? null : f(this);
  }
}

function region(f: Field): ReservedRegion {
  const g = f.object(["start", "last", "type"], ["source", "msiAmbiguous"]);
  return {
    start: g("start").u64(),
    last: g("last").u64(),
    type: g("type").oneOf(RESERVED_TYPE_ORDER),
    ...(f.has("source") ? { source: g("source").string() } : {}),
    ...(f.has("msiAmbiguous") ? { msiAmbiguous: g("msiAmbiguous").bool() } : {}),
  };
}

function range(f: Field): { start: bigint; last: bigint } {
  const g = f.object(["start", "last"]);
  return { start: g("start").u64(), last: g("last").u64() };
}

function params(f: Field): HostParams {
  const g = f.object([
    "kernelRelease",
    "pageSize",
    "thpSize",
    "type1",
    "iommufd",
    "vfioDeviceCdev",
    "noiommu",
  ]);
  const t = g("type1").object(["dmaEntryLimit", "allowUnsafeInterrupts", "disableHugepages"]);
  return {
    kernelRelease: g("kernelRelease").string(),
    pageSize: g("pageSize").u64(),
    thpSize: g("thpSize").u64(),
    type1: {
      dmaEntryLimit: t("dmaEntryLimit").int(0, 0xffffffff),
      allowUnsafeInterrupts: t("allowUnsafeInterrupts").bool(),
      disableHugepages: t("disableHugepages").bool(),
    },
    iommufd: g("iommufd").nullable((x) => ({
      allowUnsafeInterrupts: x.object(["allowUnsafeInterrupts"])("allowUnsafeInterrupts").bool(),
    })),
    vfioDeviceCdev: g("vfioDeviceCdev").bool(),
    noiommu: g("noiommu").bool(),
  };
}

const UNIT_KEYS = [
  "name",
  "kind",
  "addressWidth",
  "aperture",
  "pgsizeBitmap",
  "enforceCacheCoherency",
  "dirtyTracking",
  "msiIsolation",
  "driver",
];

function unit(f: Field): IommuUnit {
  const g = f.object(UNIT_KEYS, ["vtd", "apertureAtFirstAttach"]);
  const vtd = f.has("vtd") ? g("vtd").object(["capReg", "ecapReg"]) : null;
  return {
    name: g("name").string(),
    kind: g("kind").oneOf(KINDS),
    addressWidth: g("addressWidth").int(1, 64),
    aperture: range(g("aperture")),
    pgsizeBitmap: g("pgsizeBitmap").u64(),
    enforceCacheCoherency: g("enforceCacheCoherency").bool(),
    dirtyTracking: g("dirtyTracking").bool(),
    msiIsolation: g("msiIsolation").bool(),
    driver: g("driver").string(),
    ...(vtd ? { vtd: { capReg: vtd("capReg").u64(), ecapReg: vtd("ecapReg").u64() } } : {}),
    ...(f.has("apertureAtFirstAttach") ? { apertureAtFirstAttach: g("apertureAtFirstAttach").bool() } : {}),
  };
}

function device(f: Field): PciDevice {
  const keys = ["bdf", "vendor", "device", "class", "driver", "group", "iommu", "reservedRegions"];
  const g = f.object(keys, ["cdev", "emulated"]);
  return {
    bdf: g("bdf").string(),
    vendor: g("vendor").int(0, 0xffff),
    device: g("device").int(0, 0xffff),
    class: g("class").int(0, 0xffffff),
    driver: g("driver").nullable((x) => x.string()),
    group: g("group").nullable((x) => x.int()),
    iommu: g("iommu").nullable((x) => x.string()),
    reservedRegions: g("reservedRegions").array().map(region),
    ...(f.has("cdev") ? { cdev: g("cdev").string() } : {}),
    ...(f.has("emulated") ? { emulated: g("emulated").bool() } : {}),
  };
}

function group(f: Field): IommuGroup {
  const g = f.object(["id", "type", "devices", "reservedRegions"]);
  return {
    id: g("id").int(),
    type: g("type").string(),
    devices: g("devices")
      .array()
      .map((x) => x.string()),
    reservedRegions: g("reservedRegions").array().map(region),
  };
}

function jsonError(text: string, file: string, e: unknown): HostReadError {
  const msg = e instanceof Error ? e.message : String(e);
  const pos = /position (\d+)/.exec(msg);
  const line = pos ? text.slice(0, Number(pos[1])).split("\n").length : undefined;
  return new HostReadError(file, `not valid JSON (${msg})`, line);
}

/** Decode a snapshot's text; `file` names it in errors. */
export function snapshotFromText(text: string, file = "snapshot"): Host {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw jsonError(text, file, e);
  }
  const top = new Field(file, "$", json);
  if (typeof json !== "object" || json === null || Array.isArray(json))
    top.fail("an ioas-host snapshot object");
  const env = json as Record<string, unknown>;
  if (env["format"] !== SNAPSHOT_FORMAT) {
    throw new HostReadError(
      file,
      `not an ioas host snapshot ("format" is ${JSON.stringify(env["format"])}, expected "${SNAPSHOT_FORMAT}")`,
    );
  }
  const version = env["version"];
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1) {
    throw new HostReadError(file, `"version" must be a positive integer, got ${JSON.stringify(version)}`);
  }
  if (version > SNAPSHOT_VERSION) {
    throw new HostReadError(
      file,
      `snapshot version ${version} is newer than this ioas reads (up to ${SNAPSHOT_VERSION}); upgrade ioas`,
    );
  }
  const g = top.object(["format", "version", "host"]);
  const h = g("host").object(["name", "params", "iommus", "devices", "groups"], ["description"]);
  const host: Host = {
    name: h("name").string(),
    ...(g("host").has("description") ? { description: h("description").string() } : {}),
    params: params(h("params")),
    iommus: h("iommus").array().map(unit),
    devices: h("devices").array().map(device),
    groups: h("groups").array().map(group),
  };
  return validateHost(host);
}

export function loadSnapshot(path: string): Host {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "missing"
        : code === "EACCES"
          ? "permission denied"
          : code === "EISDIR"
            ? "is a directory"
            : String(e);
    throw new HostReadError(path, `cannot read snapshot: ${why}`);
  }
  return snapshotFromText(text, path);
}
