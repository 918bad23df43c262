/**
 * One native iommufd command in flight (`struct iommufd_ucmd`): the kernel-sized copy of the user's
 * struct, the context, and the response rule (copy back `min(user size, struct size)` bytes).
 */

import type { IommufdContext } from "../../core/iommufd/context.js";
import type { PinSource } from "../../core/iommufd/pages.js";
import type { Process } from "../../process/process.js";
import { copyToUser, type IoctlCall } from "../file.js";
import type { FieldSpec, StructCodec, StructInput, StructValues } from "../struct.js";
import type { Kernel } from "../system.js";

export class Ucmd<F extends readonly FieldSpec[] = readonly FieldSpec[]> {
  constructor(
    readonly kernel: Kernel,
    readonly ctx: IommufdContext,
    readonly call: IoctlCall,
    readonly codec: StructCodec<F>,
    /** The struct as the kernel sees it (`codec.size` bytes, zero-extended). */
    readonly bytes: Uint8Array,
    readonly userSize: number,
  ) {}

  get process(): Process {
    return this.call.process;
  }

  get cmd(): StructValues<F> {
    return this.codec.decode(this.bytes);
  }

  /** Update fields of the kernel copy (what a later `respond` writes back). */
  set(values: StructInput<F>): void {
    this.codec.encodeInto(this.bytes, values);
  }

  /** iommufd_ucmd_respond: copy back min(user size, struct size) bytes (EFAULT). */
  respond(): void {
    const bytes = this.userSize >= this.codec.size ? this.bytes : this.bytes.subarray(0, this.userSize);
    copyToUser(this.process, this.call.arg, bytes);
  }

  /**
   * Respond for a command that created object `id`: if the copy-out faults, the object is destroyed
   * again before the error returns (iommufd's abort path: the id is free for the next allocation).
   */
  respondCreated(id: number): void {
    try {
      this.respond();
    } catch (e) {
      this.ctx.destroy(id);
      throw e;
    }
  }

  /** The calling process as the owner of new pinned pages. */
  pinSource(): PinSource {
    return this.kernel.pinSource(this.process);
  }
}

/** A native command handler: returns the ioctl result (0) or throws `IoasError`. */
export type Handler<F extends readonly FieldSpec[]> = (ucmd: Ucmd<F>) => number;
