/**
 * HWPT and device-info commands (hw_pagetable.c, device.c): DESTROY, HWPT_ALLOC, GET_HW_INFO,
 * HWPT_SET_DIRTY_TRACKING, HWPT_GET_DIRTY_BITMAP.
 */

import { fail } from "../../core/errno.js";
import { copyFromUser, copyToUser } from "../file.js";
import { readU32 } from "../little-endian.js";
import {
  iommuDestroy,
  iommuHwInfo,
  iommuHwptAlloc,
  iommuHwptGetDirtyBitmap,
  iommuHwptSetDirtyTracking,
} from "../structs/iommufd.js";
import type { Ucmd } from "./ucmd.js";

export const IOMMU_HWPT_DATA_NONE = 0;
export const IOMMU_HWPT_DIRTY_TRACKING_ENABLE = 1;
export const IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR = 1;

/** IOMMU_DESTROY. */
export function destroy(u: Ucmd): number {
  u.ctx.destroy(iommuDestroy.decode(u.bytes).id);
  return 0;
}

/**
 * IOMMU_HWPT_ALLOC (6.7+ struct): reserved → data type/len consistency → device → pt_id (EINVAL)
 * → flags (in the paging allocator). A failing response destroys the new HWPT.
 */
export function hwptAlloc(u: Ucmd): number {
  const op = "IOMMU_HWPT_ALLOC";
  const cmd = iommuHwptAlloc.decode(u.bytes);
  if (cmd.__reserved !== 0) fail("EOPNOTSUPP", op, "reserved field set");
  if (
    (cmd.data_type === IOMMU_HWPT_DATA_NONE && cmd.data_len !== 0) ||
    (cmd.data_type !== IOMMU_HWPT_DATA_NONE && cmd.data_len === 0)
  )
    fail("EINVAL", op, "data_type and data_len disagree");
  // Driver-specific user data needs a user-domain allocator with nesting; none is modelled.
  if (cmd.data_type !== IOMMU_HWPT_DATA_NONE) {
    u.ctx.device(cmd.dev_id, op);
    fail("EOPNOTSUPP", op, "driver data not supported");
  }
  const id = u.ctx.hwptAlloc(cmd.dev_id, cmd.pt_id, cmd.flags);
  iommuHwptAlloc.encodeInto(u.bytes, { out_hwpt_id: id });
  u.respondCreated(id);
  return 0;
}

/**
 * IOMMU_GET_HW_INFO: copies min(data_len, driver length) bytes, zero-fills the rest of the user
 * buffer, reports the driver's length (may exceed the buffer), type and capabilities.
 */
export function getHwInfo(u: Ucmd): number {
  const op = "IOMMU_GET_HW_INFO";
  const cmd = iommuHwInfo.decode(u.bytes);
  // Bytes 28..31 are __reserved on 6.12 (out_max_pasid_log2 appeared later as an output).
  const reserved = readU32(u.bytes, 28);
  if (cmd.flags !== 0 || reserved !== 0) fail("EOPNOTSUPP", op, "flags or reserved set");
  const info = u.ctx.getHwInfo(cmd.dev_id);
  const copyLen = Math.min(cmd.data_len, info.data.length);
  if (copyLen > 0) copyToUser(u.process, cmd.data_uptr, info.data.subarray(0, copyLen));
  if (copyLen < cmd.data_len)
    copyToUser(u.process, cmd.data_uptr + BigInt(copyLen), new Uint8Array(cmd.data_len - copyLen));
  iommuHwInfo.encodeInto(u.bytes, {
    data_len: info.data.length,
    out_data_type: info.dataType,
    out_capabilities: info.capabilities,
  });
  u.respond();
  return 0;
}

/** IOMMU_HWPT_SET_DIRTY_TRACKING. */
export function setDirtyTracking(u: Ucmd): number {
  const op = "IOMMU_HWPT_SET_DIRTY_TRACKING";
  const cmd = iommuHwptSetDirtyTracking.decode(u.bytes);
  if ((cmd.flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE) !== 0 || cmd.__reserved !== 0)
    fail("EOPNOTSUPP", op, "unknown flags");
  u.ctx.setDirtyTracking(cmd.hwpt_id, (cmd.flags & IOMMU_HWPT_DIRTY_TRACKING_ENABLE) !== 0);
  return 0;
}

/** IOMMU_HWPT_GET_DIRTY_BITMAP: sets the dirty bits in the user's bitmap (others untouched). */
export function getDirtyBitmap(u: Ucmd): number {
  const op = "IOMMU_HWPT_GET_DIRTY_BITMAP";
  const cmd = iommuHwptGetDirtyBitmap.decode(u.bytes);
  if ((cmd.flags & ~IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) !== 0 || cmd.__reserved !== 0)
    fail("EOPNOTSUPP", op, "unknown flags");
  const dirty = u.ctx.getDirtyBitmap(
    cmd.hwpt_id,
    cmd.iova,
    cmd.length,
    cmd.page_size,
    (cmd.flags & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) !== 0,
  );
  if (dirty.length === 0) return 0;
  const bits = cmd.length / cmd.page_size;
  const nbytes = Number((bits + 7n) / 8n);
  const bitmap = copyFromUser(u.process, cmd.data, nbytes);
  for (const i of dirty) bitmap[Number(i / 8n)]! |= 1 << Number(i % 8n);
  copyToUser(u.process, cmd.data, bitmap);
  return 0;
}
