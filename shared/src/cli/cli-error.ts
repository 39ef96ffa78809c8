/** A usage or I/O error: printed on stderr, exit code 2. */
export class CliError extends Error {
  override name = 'CliError'
}
