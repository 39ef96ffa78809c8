/** My notifications, newest first; live (fetched again whenever the relay's log grows). */
import { Link } from '../app/router.js'
import { useRelayQuery, type Page } from '../social/relay-api.js'

interface NotificationJson {
  eventId: string
  kind: string
  actor: { identityId: string; handle: string | null }
  postId: string | null
  commentId: string | null
  detail: string | null
  createdAt: string
}

const VERBS: Record<string, string> = {
  reaction: 'reacted to your post',
  comment: 'commented on your post',
  reply: 'replied to your comment',
  follow: 'followed you',
  promoted: 'promoted your post',
  report_resolved: 'resolved your report',
}

export default function Notifications() {
  const list = useRelayQuery<Page<NotificationJson>>('/v1/notifications?limit=50')
  const items = list.data?.items ?? []
  return (
    <section class="screen">
      <h1 tabIndex={-1}>Notifications</h1>
      {list.error ? <p class="error">{list.error}</p> : null}
      <p role="status" class="status-line">
        {list.data ? `${items.length} ${items.length === 1 ? 'notification' : 'notifications'}` : ''}
      </p>
      <ul class="notifications" data-testid="notifications">
        {items.map((n) => (
          <li data-kind={n.kind}>
            <Link href={`/u/${n.actor.identityId}`}>{n.actor.handle ? `@${n.actor.handle}` : n.actor.identityId}</Link>{' '}
            {VERBS[n.kind] ?? n.kind}
            {n.kind === 'reaction' && n.detail ? ` ${n.detail}` : ''}
            {n.postId ? (
              <>
                {' · '}
                <Link href={`/post/${n.postId}`}>open post</Link>
              </>
            ) : null}{' '}
            <time dateTime={n.createdAt}>{new Date(n.createdAt).toLocaleString()}</time>
          </li>
        ))}
      </ul>
      {list.data && items.length === 0 ? <p>Nothing yet.</p> : null}
    </section>
  )
}
