/** A saved state that cannot be written or read: corrupted, from a future version, or not ours. */
export class StateError extends Error {
  override readonly name = "StateError";
  readonly code = "EIOASSTATE";

  toJSON(): { name: string; code: string; message: string } {
    return { name: this.name, code: this.code, message: this.message };
  }
}
