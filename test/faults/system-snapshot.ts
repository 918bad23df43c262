/**
 * The whole simulated system as one JSON-able value, for "a failing call changes nothing" checks:
 * every live iommufd context (objects, mappings, reservations, pins, charges, reserved ids), every
 * VFIO container reachable from an fd or a group (type1 state), the VFIO groups and devices, each
 * process's open fds, mm->locked_vm and its user's locked_vm.
 *
 * Built only from public snapshots plus two read-only views of private tables (the iommufd id table,
 * the kernel's per-user accounts) so that an id reserved and never given back shows up.
 */

import type { IommufdContext } from "../../src/core/iommufd/context.js";
import type { LockedAccount } from "../../src/core/accounting.js";
import { VfioContainer } from "../../src/core/vfio/container.js";
import { iommufdContexts } from "../../src/uapi/iommufd/file.js";
import type { Kernel } from "../../src/uapi/system.js";
import { ContainerFile } from "../../src/uapi/vfio/container.js";
import { vfioSubsystem } from "../../src/uapi/vfio/index.js";

const hex = (v: bigint): string => "0x" + v.toString(16);

/** Ids in the context's table, published or reserved by a creation in progress. */
function tableIds(ctx: IommufdContext): number[] | null {
  const table: unknown = Reflect.get(ctx, "objects");
  return table instanceof Map ? [...(table.keys() as Iterable<number>)].sort((a, b) => a - b) : null;
}

function userAccounts(kernel: Kernel): Record<string, string> | null {
  const users: unknown = Reflect.get(kernel, "users");
  if (!(users instanceof Map)) return null;
  const out: Record<string, string> = {};
  for (const [uid, acct] of users as Map<number, LockedAccount>)
    // Accounts are created on first use with 0 pages: an empty one is the same as none.
    if (acct.lockedVm !== 0n) out[String(uid)] = hex(acct.lockedVm);
  return out;
}

export function systemSnapshot(kernel: Kernel): unknown {
  const containers = new Set<VfioContainer>();
  const processes = kernel.liveProcesses().map((p) => ({
    pid: p.pid,
    mmLockedVm: hex(p.mm.lockedVm),
    fds: p.openFds().map((fd) => {
      const f = p.lookupFile(fd);
      if (f instanceof ContainerFile) containers.add(f.container);
      return `${fd}:${f?.kind ?? "?"}`;
    }),
  }));
  let groups: unknown = null;
  if (kernel.hasService("vfio")) {
    const vfio = vfioSubsystem(kernel);
    groups = vfio.snapshot();
    for (const g of vfio.groups) {
      const u = g.legacyUser;
      if (u?.kind === "container" && u.container instanceof VfioContainer) containers.add(u.container);
    }
  }
  return {
    users: userAccounts(kernel),
    processes,
    iommufd: [...iommufdContexts(kernel)].map((ctx) => ({ ids: tableIds(ctx), ...ctx.snapshot() })),
    // Container ids come from a process-wide counter: keep their order, not their values.
    containers: [...containers].sort((a, b) => a.id - b.id).map((c) => c.snapshot()),
    groups,
  };
}

/** The snapshot as a canonical string (bigints as hex) for cheap equality. */
export function systemSnapshotText(kernel: Kernel): string {
  const text = JSON.stringify(systemSnapshot(kernel), (_k, v: unknown) =>
    typeof v === "bigint" ? hex(v) : v,
  );
  // Memory objects are numbered by a process-wide counter: name them by first appearance so that
  // two kernels built the same way compare equal.
  const names = new Map<string, string>();
  return text.replace(/\bobj(\d+)\+/g, (_m, id: string) => {
    let n = names.get(id);
    if (!n) names.set(id, (n = `m${names.size + 1}`));
    return `${n}+`;
  });
}

/** The first differing path of two snapshot texts (for failure messages). */
export function firstDifference(a: string, b: string): string {
  const walk = (x: unknown, y: unknown, path: string): string | null => {
    if (JSON.stringify(x) === JSON.stringify(y)) return null;
    if (x && y && typeof x === "object" && typeof y === "object") {
      const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
      for (const k of keys) {
        const d = walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], `${path}.${k}`);
        if (d) return d;
      }
    }
    const s = (v: unknown): string => (v === undefined ? "undefined" : JSON.stringify(v)).slice(0, 160);
    return `${path || "."}: ${s(x)} → ${s(y)}`;
  };
  return walk(JSON.parse(a), JSON.parse(b), "") ?? "(no difference)";
}
