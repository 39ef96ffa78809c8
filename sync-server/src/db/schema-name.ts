const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/**
 * A schema name for the `schema` option, double-quoted for SQL. Only lower-case identifiers are
 * accepted, so the quoted and unquoted spellings name the same schema and nothing needs escaping.
 */
export function quoteSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) throw new RangeError(`invalid schema name ${JSON.stringify(schema)}`)
  return `"${schema}"`
}
