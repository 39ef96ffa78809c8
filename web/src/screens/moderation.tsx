/**
 * The moderators' report queue (`GET /v1/moderation/reports` through the SDK's socialQueries): each open
 * report with its target, reason and note, and for a post hide / take down / approve. An action is two
 * receipts in the moderator's own `moderation/{identityId}` stream — the act on the post, then the
 * REPORT_RESOLVED that closes the report — signed here and queued in the outbox (offline too), shown
 * pending until the relay accepts them. Only in the navigation of a moderator identity; anyone else
 * who opens the page gets the relay's 403 in words.
 */
import { moderationCommands, type ModerationReport, type ReportReason } from '@pixpax/client-sdk'
import { useEffect, useState } from 'preact/hooks'
import { Link } from '../app/router.js'
import { useStore } from '../app/store.js'
import { changes, identityState, queued, syncClient } from '../identity/identity-session.js'
import { queries, RelayError } from '../social/relay-api.js'
import '../moderation/moderation.css'

type Action = 'hidden' | 'taken_down' | 'approved' | 'dismissed'

const ACTION_LABEL: Record<Action, string> = {
  hidden: 'hidden',
  taken_down: 'taken down',
  approved: 'approved',
  dismissed: 'dismissed',
}

interface Queue {
  reports?: ModerationReport[]
  error?: string
}

function useReportQueue(status: 'open' | 'resolved'): Queue {
  const tick = useStore(changes)
  const state = useStore(identityState)
  const [queue, setQueue] = useState<Queue>({})
  useEffect(() => {
    if (state.phase !== 'ready') return
    let cancelled = false
    queries()
      .moderationReports(status, { limit: 100 })
      .then(
        (page) => !cancelled && setQueue({ reports: page.items }),
        (e: unknown) =>
          !cancelled &&
          setQueue((q) => ({
            ...q,
            error:
              e instanceof RelayError && e.status === 403
                ? 'Only the moderators of this relay see the report queue.'
                : navigator.onLine
                  ? (e as Error).message
                  : 'You are offline: the queue shows again once you are online.',
          })),
      )
    return () => {
      cancelled = true
    }
  }, [status, tick, state.phase])
  return queue
}

function targetOf(r: ModerationReport): { kind: string; id: string } {
  const [key, id] = Object.entries(r.target)[0] ?? ['unknown', '']
  return { kind: key.replace(/Id$/, ''), id }
}

export default function Moderation() {
  const state = useStore(identityState)
  useStore(changes) // the outbox's pending list below
  const [status, setStatus] = useState<'open' | 'resolved'>('open')
  const queue = useReportQueue(status)
  const [message, setMessage] = useState<string | undefined>()
  const me = state.identity?.identityId
  const client = syncClient()
  // Reports closed by a REPORT_RESOLVED still in the outbox: pending, with the action taken.
  const pending = new Map<string, string>()
  for (const e of client?.pending() ?? [])
    if (e.receipt.type === 'REPORT_RESOLVED' && e.state !== 'acked' && e.state !== 'rejected')
      pending.set(e.receipt.payload.reportId as string, e.receipt.payload.action as string)

  const act = async (r: ModerationReport, action: Action) => {
    setMessage(undefined)
    if (!client || !me) return
    try {
      const m = moderationCommands(client, me)
      const { kind, id } = targetOf(r)
      if (kind === 'post') {
        if (action === 'hidden') await m.hidePost(id, `report ${r.reportId}`)
        if (action === 'taken_down') await m.takeDown(id, r.reason as ReportReason, `report ${r.reportId}`)
        if (action === 'approved') await m.approve(id)
      }
      await m.resolveReport(r.reportId, action)
      queued()
    } catch (e) {
      setMessage((e as Error).message)
    }
  }

  return (
    <section class="screen">
      <h1 tabIndex={-1}>Moderation</h1>
      <div role="group" aria-label="Which reports" class="toolbar">
        <button type="button" aria-pressed={status === 'open'} onClick={() => setStatus('open')}>
          Open reports
        </button>
        <button type="button" aria-pressed={status === 'resolved'} onClick={() => setStatus('resolved')}>
          Resolved
        </button>
      </div>
      {message ? (
        <p role="alert" class="error">
          {message}
        </p>
      ) : null}
      {queue.error ? <p class="hint">{queue.error}</p> : null}
      {queue.reports && !queue.reports.length ? <p class="hint">No {status} reports.</p> : null}
      <ul class="report-queue" data-testid="report-queue">
        {(queue.reports ?? []).map((r) => {
          const { kind, id } = targetOf(r)
          const taken = pending.get(r.reportId)
          return (
            <li class="panel" data-report={r.reportId} data-target={id}>
              <p>
                <strong>{r.reason}</strong> · {kind}{' '}
                {kind === 'post' ? <Link href={`/post/${encodeURIComponent(id)}`}>{id}</Link> : <code>{id}</code>} · reported by{' '}
                <Link href={`/u/${encodeURIComponent(r.reporter)}`}>{r.reporter}</Link> · {new Date(r.createdAt).toLocaleString()}
              </p>
              {r.note ? <blockquote>{r.note}</blockquote> : null}
              {r.resolution ? (
                <p data-testid="resolution">
                  Resolved: {ACTION_LABEL[r.resolution.action as Action] ?? r.resolution.action} by {r.resolution.by}
                </p>
              ) : taken ? (
                <p class="badge-pending">Pending: {ACTION_LABEL[taken as Action] ?? taken} (sent when the relay is reachable)</p>
              ) : (
                <div class="toolbar">
                  {kind === 'post' ? (
                    <>
                      <button type="button" onClick={() => void act(r, 'hidden')}>
                        Hide
                      </button>
                      <button type="button" class="danger" onClick={() => void act(r, 'taken_down')}>
                        Take down
                      </button>
                      <button type="button" onClick={() => void act(r, 'approved')}>
                        Approve
                      </button>
                    </>
                  ) : (
                    <button type="button" onClick={() => void act(r, 'dismissed')}>
                      Dismiss
                    </button>
                  )}
                </div>
              )}
            </li>
          )
        })}
      </ul>
    </section>
  )
}
