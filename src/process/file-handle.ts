/**
 * The reference-counted open file (`struct file`): fds and kernel objects (e.g. a VFIO group holding
 * its iommufd) each hold one reference; the file's `release()` runs when the last one is put.
 */

export interface Releasable {
  release(): void;
}

export class FileHandle<F extends Releasable = Releasable> {
  private refs = 1;

  constructor(readonly file: F) {}

  get refCount(): number {
    return this.refs;
  }

  /** get_file(): take another reference. */
  get(): this {
    if (this.refs <= 0) throw new Error("get() on a released file (engine bug)");
    this.refs++;
    return this;
  }

  /** fput(): drop a reference; the last one releases the file. */
  put(): void {
    if (this.refs <= 0) throw new Error("put() on a released file (engine bug)");
    this.refs--;
    if (this.refs === 0) this.file.release();
  }
}
