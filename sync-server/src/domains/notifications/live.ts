/**
 * Live notifications over the sync WebSocket (docs/sync-protocol.md, "Notifications"): one per
 * connection that asked, for its session's identity. Like a stream subscription it is one pump that
 * sends everything past its cursor (a log position), oldest first, one message in flight at a time, so
 * catch-up and live delivery are the same loop — no gaps, no duplicates when notices come mid-read or
 * twice. The notifications projector announces `notifications/{identityId}` when it has written rows
 * for that identity (on whichever replica ran the batch; NOTIFY reaches every replica).
 */
import type { LiveNotification, ServerMessage } from '@pixpax/shared'
import type { Queryable } from '../../db/projection-db.js'
import { notificationNoticeStream } from './projector.js'
import { readNotifications } from './read.js'

/** Items per message (the protocol's cap). */
const PAGE = 200

export class LiveNotifications {
  readonly noticeStream: string
  private cursor = -1
  private started = false
  private pumping = false
  private dirty = false
  private closed = false
  /** The request to answer with the next message (null: a request without id); undefined: none due. */
  private replyTo: string | null | undefined

  constructor(
    private readonly db: Queryable,
    private readonly recipient: string,
    private readonly send: (message: ServerMessage) => Promise<void>,
    /**
     * Waits (briefly) for the notifications projection to cover the log as it is now, as
     * `GET /v1/notifications` does: a catch-up answers with what was missed, not with what the tail
     * projector has reached so far.
     */
    private readonly fresh: () => Promise<void> = async () => {},
  ) {
    this.noticeStream = notificationNoticeStream(recipient)
  }

  /** Delivery from after `after` (null: from the newest notification there is now on); answers `id`. */
  async start(after: number | null, id: string | undefined): Promise<void> {
    await this.fresh()
    if (after === null) {
      const { rows } = await this.db.query<{ last: number | null }>(
        'SELECT max(position) AS last FROM social_notifications WHERE recipient_id = $1',
        [this.recipient],
      )
      this.cursor = rows[0]?.last ?? -1
    } else this.cursor = after
    this.replyTo = id ?? null
    this.started = true
    await this.pump()
  }

  /** Sends what is past the cursor; called on every notice for this recipient (and after a reconnect). */
  async pump(): Promise<void> {
    if (!this.started || this.closed) return
    if (this.pumping) {
      this.dirty = true
      return
    }
    this.pumping = true
    try {
      do {
        this.dirty = false
        for (;;) {
          const items: LiveNotification[] = await readNotifications(this.db, this.recipient, { after: this.cursor, limit: PAGE })
          const reply = this.replyTo
          if (items.length === 0 && reply === undefined) break
          this.replyTo = undefined
          if (items.length) this.cursor = items.at(-1)!.position
          await this.send({ type: 'notifications', ...(reply ? { id: reply } : {}), items })
          if (items.length < PAGE || this.closed) break
        }
      } while (this.dirty && !this.closed)
    } finally {
      this.pumping = false
    }
  }

  close(): void {
    this.closed = true
  }
}
