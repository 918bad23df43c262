/**
 * Kernel-version-dependent behaviour, derived once from the host's kernel release.
 * Every version switch in the engine reads a named feature here, never a version number.
 */

export interface KernelVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

export function parseKernelRelease(release: string): KernelVersion {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release.trim());
  if (!m) throw new RangeError(`not a kernel release: ${JSON.stringify(release)}`);
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0) };
}

function atLeast(v: KernelVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/** A stable series at or past the release that carried a back-port (e.g. 6.12.59 and later 6.12.y). */
function stableAtLeast(v: KernelVersion, major: number, minor: number, patch: number): boolean {
  return v.major === major && v.minor === minor && v.patch >= patch;
}

export interface KernelFeatures {
  readonly version: KernelVersion;
  /** iommufd exists (/dev/iommu, compat ioctls). */
  readonly iommufd: boolean;
  /** Highest iommufd command nr this kernel knows (0x8e on 6.11/6.12). */
  readonly iommufdLastNr: number;
  /** VFIO capability structs are 8-byte aligned and GET_INFO writes min(argsz, 24) header bytes. */
  readonly vfioCapsAligned: boolean;
  /** type1 map/unmap arithmetic wrap answers EOVERFLOW instead of EINVAL. */
  readonly type1Eoverflow: boolean;
  /** SET_CONTAINER with a fd that is neither container nor iommufd answers EBADFD (else EINVAL). */
  readonly setContainerEbadfd: boolean;
  /** iommufd compat unmap of an empty range succeeds (else ENOENT). */
  readonly compatEmptyUnmapOk: boolean;
  /** VADDR update moves locked_vm accounting to the new mm. */
  readonly vaddrMovesAccounting: boolean;
  /** HWPT_ALLOC struct size. */
  readonly hwptAllocSize: number;
}

export function kernelFeatures(release: string, hasIommufd: boolean): KernelFeatures {
  const v = parseKernelRelease(release);
  const iommufd = hasIommufd && atLeast(v, 6, 2);
  return {
    version: v,
    iommufd,
    iommufdLastNr: !iommufd
      ? 0
      : atLeast(v, 6, 17)
        ? 0x94
        : atLeast(v, 6, 15)
          ? 0x93
          : atLeast(v, 6, 14)
            ? 0x92
            : atLeast(v, 6, 13)
              ? 0x91
              : atLeast(v, 6, 11)
                ? 0x8e
                : atLeast(v, 6, 8)
                  ? 0x8d
                  : atLeast(v, 6, 7)
                    ? 0x8c
                    : atLeast(v, 6, 6)
                      ? 0x8a
                      : 0x88,
    vfioCapsAligned: atLeast(v, 6, 6),
    type1Eoverflow: atLeast(v, 6, 19),
    setContainerEbadfd: atLeast(v, 6, 2),
    // "iommufd: Make vfio_compats unmap succeed if the range is already empty": mainline 6.18;
    // stable back-ports in the review series of 2025-11-21 — 6.17.9, 6.12.59, 6.6.117 (the
    // 6.12.107 traces confirm the new behaviour).
    compatEmptyUnmapOk:
      atLeast(v, 6, 18) ||
      stableAtLeast(v, 6, 17, 9) ||
      stableAtLeast(v, 6, 12, 59) ||
      stableAtLeast(v, 6, 6, 117),
    vaddrMovesAccounting: atLeast(v, 6, 3),
    hwptAllocSize: atLeast(v, 6, 11) ? 48 : atLeast(v, 6, 7) ? 40 : 24,
  };
}
