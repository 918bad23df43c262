/** The error of the host readers: which file, which line, what is wrong. */

export class HostReadError extends Error {
  override readonly name = "HostReadError";
  readonly code = "EHOSTREAD";
  readonly file: string;
  readonly line: number | undefined;
  readonly reason: string;

  constructor(file: string, reason: string, line?: number) {
    super(`${file}${line !== undefined ? `:${line}` : ""}: ${reason}`);
    this.file = file;
    this.line = line;
    this.reason = reason;
  }

  toJSON(): { code: string; file: string; line: number | null; message: string } {
    return { code: this.code, file: this.file, line: this.line ?? null, message: this.message };
  }
}

export function isHostReadError(e: unknown): e is HostReadError {
  return e instanceof HostReadError;
}
