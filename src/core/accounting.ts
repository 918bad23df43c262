/**
 * Locked-memory accounting: the counters pinned pages are charged to, and RLIMIT_MEMLOCK.
 *
 * Two kinds of account exist in the kernel: a process's `mm->locked_vm` (type1, and iommufd in
 * "mm" mode) and a user's `user->locked_vm` shared by all of that user's processes (iommufd's
 * default "user" mode). Both count pages. The rules differ per subsystem:
 *   - type1: charge the mm always; CAP_IPC_LOCK only skips the limit check.
 *   - iommufd: CAP_IPC_LOCK means no charge at all; otherwise charge user or mm and check the limit.
 */

import { fail } from "./errno.js";
import { PAGE_SIZE } from "./u64.js";

export interface LockedAccount {
  /** Pages currently charged. */
  lockedVm: bigint;
}

export interface PinCredentials {
  readonly capIpcLock: boolean;
  /** RLIMIT_MEMLOCK in bytes. */
  readonly rlimitMemlock: bigint;
}

export function limitPages(creds: PinCredentials): bigint {
  return creds.rlimitMemlock / PAGE_SIZE;
}

/**
 * Charge `pages` to `account`; ENOMEM (and nothing charged) when `checkLimit` and the new total
 * exceeds RLIMIT_MEMLOCK.
 */
export function chargePages(
  op: string,
  account: LockedAccount,
  pages: bigint,
  creds: PinCredentials,
  checkLimit: boolean,
): void {
  if (pages <= 0n) return;
  if (checkLimit && account.lockedVm + pages > limitPages(creds)) {
    fail("ENOMEM", op, "RLIMIT_MEMLOCK exceeded");
  }
  account.lockedVm += pages;
}

export function unchargePages(account: LockedAccount, pages: bigint): void {
  if (pages <= 0n) return;
  account.lockedVm -= pages;
  if (account.lockedVm < 0n) throw new Error("locked_vm accounting went negative (engine bug)");
}

/** Number of CPU pages touched by [addr, addr+length). */
export function pagesSpanned(addr: bigint, length: bigint): bigint {
  if (length === 0n) return 0n;
  const first = addr / PAGE_SIZE;
  const last = (addr + length - 1n) / PAGE_SIZE;
  return last - first + 1n;
}
