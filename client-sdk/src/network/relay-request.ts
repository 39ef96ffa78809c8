/**
 * One JSON request to a relay route, with or without a session; a refusal throws RelayRequestError
 * carrying the envelope's code, status and details (docs/errors.md), so apps can tell the cases apart.
 */
export class RelayRequestError extends Error {
  override name = 'RelayRequestError'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message)
  }
  /** `details.reason` (e.g. PAIRING_CODE_INVALID, LINK_CODE_EXPIRED) or `details.rule`. */
  get reason(): string | undefined {
    const r = this.details?.reason ?? this.details?.rule
    return typeof r === 'string' ? r : undefined
  }
}

export interface RelayRequest {
  method?: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  token?: string
  body?: unknown
  fetchImpl?: typeof fetch
}

export async function relayRequest<T>(relayUrl: string, path: string, request: RelayRequest = {}): Promise<T> {
  const headers: Record<string, string> = {}
  if (request.token) headers.authorization = `Bearer ${request.token}`
  if (request.body !== undefined) headers['content-type'] = 'application/json'
  const res = await (request.fetchImpl ?? fetch)(`${relayUrl.replace(/\/$/, '')}${path}`, {
    method: request.method ?? 'GET',
    headers,
    ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
  })
  const json = (await res.json().catch(() => ({}))) as T & { error?: { code: string; message: string; details?: Record<string, unknown> } }
  if (!res.ok || json.error) {
    throw new RelayRequestError(
      res.status,
      json.error?.code ?? `HTTP_${res.status}`,
      json.error?.message ?? `${path} failed (${res.status})`,
      json.error?.details,
    )
  }
  return json
}
