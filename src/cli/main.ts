/** CLI entry: parses arguments and dispatches to one command module each. */
export async function main(argv: readonly string[]): Promise<number> {
  process.stderr.write(`ioas: no commands yet (${argv.join(" ")})\n`);
  return 2;
}
