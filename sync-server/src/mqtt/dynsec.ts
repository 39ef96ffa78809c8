/**
 * A client of Mosquitto's dynamic-security plugin: commands published on `$CONTROL/dynamic-security/v1`,
 * answers read from `…/response`, matched by `correlationData` (the plugin echoes it). Only what the
 * bridge needs: clients, roles with ACLs, and the role the relay's own client holds.
 */
import { randomUUID } from 'node:crypto'
import type { MqttClient } from 'mqtt'
import { DYNSEC_TOPIC } from './topics.js'

export type AclType =
  'publishClientSend' | 'publishClientReceive' | 'subscribeLiteral' | 'subscribePattern' | 'unsubscribeLiteral' | 'unsubscribePattern'

export interface Acl {
  acltype: AclType
  topic: string
  allow: boolean
  priority?: number
}

export type DynsecCommand = { command: string } & Record<string, unknown>

export interface DynsecAnswer {
  command: string
  /** The plugin's error text (`Client already exists`, `Role not found`, …); absent on success. */
  error?: string
  /** What a `get…` command returns. */
  data?: Record<string, unknown>
}

/** A client as `getClient` describes it. */
export interface DynsecClientInfo {
  username: string
  textname?: string
  roles?: Array<{ rolename: string }>
}

export class DynsecError extends Error {
  override name = 'DynsecError'
  constructor(
    readonly command: string,
    readonly reason: string,
  ) {
    super(`dynamic-security ${command}: ${reason}`)
  }
}

/** Entries per `listClients`/`listRoles` page. */
const LIST_PAGE = 500

/** How long an answer may take before the command is reported lost (the broker answers in milliseconds). */
const ANSWER_TIMEOUT_MS = 10_000

export class DynsecClient {
  private readonly waiting = new Map<string, { resolve: (a: DynsecAnswer) => void; reject: (e: Error) => void }>()
  private subscribed: Promise<unknown> | undefined

  constructor(private readonly mqtt: MqttClient) {
    mqtt.on('message', (topic, payload) => {
      if (topic === `${DYNSEC_TOPIC}/response`) this.onResponse(payload)
    })
  }

  private onResponse(payload: Buffer): void {
    let body: { responses?: Array<DynsecAnswer & { correlationData?: string }> }
    try {
      body = JSON.parse(payload.toString('utf8')) as typeof body
    } catch {
      return
    }
    for (const answer of body.responses ?? []) {
      const waiter = answer.correlationData ? this.waiting.get(answer.correlationData) : undefined
      if (!waiter) continue
      this.waiting.delete(answer.correlationData!)
      waiter.resolve({
        command: answer.command,
        ...(answer.error ? { error: answer.error } : {}),
        ...(answer.data ? { data: answer.data } : {}),
      })
    }
  }

  /** Sends commands in one message (the plugin runs them in order) and resolves with one answer each. */
  async run(commands: readonly DynsecCommand[]): Promise<DynsecAnswer[]> {
    this.subscribed ??= this.mqtt.subscribeAsync(`${DYNSEC_TOPIC}/response`, { qos: 1 }).catch((error: unknown) => {
      this.subscribed = undefined // the next command subscribes again
      throw error
    })
    await this.subscribed
    const ids = commands.map(() => randomUUID())
    const answers = ids.map(
      (id) =>
        new Promise<DynsecAnswer>((resolve, reject) => {
          const timer = setTimeout(() => {
            this.waiting.delete(id)
            reject(new Error('no answer from the dynamic-security plugin'))
          }, ANSWER_TIMEOUT_MS)
          timer.unref()
          this.waiting.set(id, {
            resolve: (a) => {
              clearTimeout(timer)
              resolve(a)
            },
            reject,
          })
        }),
    )
    await this.mqtt.publishAsync(DYNSEC_TOPIC, JSON.stringify({ commands: commands.map((c, i) => ({ ...c, correlationData: ids[i] })) }), {
      qos: 1,
    })
    return Promise.all(answers)
  }

  /** Like `run`, but an error not listed in `tolerated` (e.g. "already exists" where that is fine) throws. */
  async expect(commands: readonly DynsecCommand[], tolerated: readonly RegExp[] = []): Promise<DynsecAnswer[]> {
    const answers = await this.run(commands)
    for (const a of answers) {
      if (a.error && !tolerated.some((t) => t.test(a.error!))) throw new DynsecError(a.command, a.error)
    }
    return answers
  }

  /** The client of that username, or undefined when there is none. */
  async getClient(username: string): Promise<DynsecClientInfo | undefined> {
    const [answer] = await this.run([{ command: 'getClient', username }])
    if (answer!.error) {
      if (/not found/i.test(answer!.error)) return undefined
      throw new DynsecError('getClient', answer!.error)
    }
    return (answer!.data as { client?: DynsecClientInfo } | undefined)?.client
  }

  /** Every client, with its textname and roles (`listClients`, verbose, page by page). */
  async listClients(): Promise<DynsecClientInfo[]> {
    return this.list<DynsecClientInfo>('listClients', 'clients', true)
  }

  /** Every role's name. */
  async listRoles(): Promise<string[]> {
    return this.list<string>('listRoles', 'roles', false)
  }

  private async list<T>(command: string, key: string, verbose: boolean): Promise<T[]> {
    const out: T[] = []
    for (;;) {
      const [answer] = await this.run([{ command, verbose, count: LIST_PAGE, offset: out.length }])
      if (answer!.error) throw new DynsecError(command, answer!.error)
      const page = ((answer!.data ?? {})[key] ?? []) as T[]
      out.push(...page)
      const total = Number((answer!.data ?? {}).totalCount ?? 0)
      if (page.length === 0 || out.length >= total) return out
    }
  }

  /** Fails what still waits (the connection is closing). */
  close(): void {
    for (const w of this.waiting.values()) w.reject(new Error('the broker connection closed'))
    this.waiting.clear()
  }
}
