/**
 * OpenAPI 3.1 generated from the same zod schemas the routes validate with: routes register their
 * schemas here as they are defined, and `GET /v1/openapi.json` serves the result.
 */
import { z } from 'zod'

export interface RouteDoc {
  method: string
  url: string
  summary: string
  tags?: string[]
  auth?: 'none' | 'session' | 'admin'
  body?: z.ZodType
  query?: z.ZodType
  response?: z.ZodType
}

export class OpenApiRegistry {
  private readonly routes: RouteDoc[] = []
  add(doc: RouteDoc): void {
    this.routes.push(doc)
  }
  document(): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {}
    for (const r of this.routes) {
      const path = r.url.replace(/:([A-Za-z]+)/g, '{$1}')
      const params = [...r.url.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      }))
      const query = r.query
        ? Object.entries(
            (
              z.toJSONSchema(r.query, { io: 'input', unrepresentable: 'any' }) as {
                properties?: Record<string, unknown>
                required?: string[]
              }
            ).properties ?? {},
          )
        : []
      const requiredQuery = r.query
        ? ((z.toJSONSchema(r.query, { io: 'input', unrepresentable: 'any' }) as { required?: string[] }).required ?? [])
        : []
      paths[path] ??= {}
      paths[path][r.method.toLowerCase()] = {
        summary: r.summary,
        tags: r.tags,
        ...(r.auth && r.auth !== 'none' ? { security: [{ session: [] }] } : {}),
        parameters: [...params, ...query.map(([name, schema]) => ({ name, in: 'query', required: requiredQuery.includes(name), schema }))],
        ...(r.body
          ? {
              requestBody: {
                required: true,
                content: { 'application/json': { schema: z.toJSONSchema(r.body, { io: 'input', unrepresentable: 'any' }) } },
              },
            }
          : {}),
        responses: {
          '200': r.response
            ? { description: 'ok', content: { 'application/json': { schema: z.toJSONSchema(r.response, { unrepresentable: 'any' }) } } }
            : { description: 'ok' },
          default: { description: 'error envelope', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        },
      }
    }
    return {
      openapi: '3.1.0',
      info: {
        title: 'PixPax relay',
        version: '1.0.0',
        description: 'Validating relay for signed PixPax receipts. Error codes: docs/errors.md.',
      },
      paths,
      components: {
        securitySchemes: { session: { type: 'http', scheme: 'bearer', description: 'session token from POST /v1/auth/session' } },
        schemas: {
          Error: {
            type: 'object',
            required: ['error'],
            properties: {
              error: {
                type: 'object',
                required: ['code', 'message', 'requestId'],
                properties: {
                  code: { type: 'string' },
                  message: { type: 'string' },
                  requestId: { type: 'string' },
                  details: { type: 'object' },
                },
              },
            },
          },
        },
      },
    }
  }
}
