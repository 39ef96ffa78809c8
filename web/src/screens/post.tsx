/**
 * A post: the art at the largest whole-number scale that fits (crisp pixels), reactions (toggle; at most
 * five distinct per person), threaded comments (replies one level deep), follow the author, report.
 * Every act is signed and queued at once and shown as pending until the relay acks it.
 */
import { REPORT_REASONS, type Receipt } from '@pixpax/shared'
import { useState } from 'preact/hooks'
import { Link, useParams } from '../app/router.js'
import { useStore } from '../app/store.js'
import { identityState } from '../identity/identity-session.js'
import { act, EMOJI, REACTION_CAP, usePending } from '../social/acts.js'
import { FollowButton } from '../social/follow-button.js'
import { authorName, PixelArt } from '../social/post-card.js'
import { useRelayQuery, type CommentJson, type PostDetailJson } from '../social/relay-api.js'

function mine(pending: Receipt[], postId: string): Receipt[] {
  return pending.filter((r) => r.payload.postId === postId)
}

export default function Post() {
  const { postId } = useParams()
  const state = useStore(identityState)
  const post = useRelayQuery<PostDetailJson>(postId ? `/v1/posts/${encodeURIComponent(postId)}` : undefined)
  const pending = usePending()
  const [error, setError] = useState<string | undefined>()
  const [comment, setComment] = useState('')
  const [replyTo, setReplyTo] = useState<string | undefined>()
  const [reply, setReply] = useState('')
  const ready = state.phase === 'ready'

  if (!post.data) {
    return (
      <section class="screen">
        <h1 tabIndex={-1}>Post</h1>
        {post.error ? <p class="error">{post.error}</p> : <p aria-busy="true">Loading…</p>}
      </section>
    )
  }
  const p = post.data
  const myPending = mine(pending, p.postId)
  // My reactions: the relay's answer, then what is still pending, in order.
  const reacted = new Set(p.myReactions)
  for (const r of myPending) {
    if (r.type === 'REACTION_ADDED') reacted.add(r.payload.emoji as string)
    if (r.type === 'REACTION_REMOVED') reacted.delete(r.payload.emoji as string)
  }
  const pendingEmoji = new Set(myPending.filter((r) => r.type.startsWith('REACTION_')).map((r) => r.payload.emoji as string))
  const counts = new Map(p.reactions.map((r) => [r.emoji, r.count]))
  const countOf = (emoji: string) => {
    const base = counts.get(emoji) ?? 0
    const had = p.myReactions.includes(emoji)
    return base + (reacted.has(emoji) && !had ? 1 : 0) - (!reacted.has(emoji) && had ? 1 : 0)
  }
  const pendingComments = myPending.filter((r) => r.type === 'COMMENT_ADDED')

  const run = async (what: Parameters<typeof act>[0]) => {
    setError(undefined)
    try {
      await act(what)
    } catch (e) {
      setError((e as Error).message)
    }
  }

  const size = typeof innerWidth === 'number' ? Math.min(512, innerWidth - 48) : 512
  return (
    <section class="screen post-page">
      <h1 tabIndex={-1}>{p.title}</h1>
      <p class="byline">
        by <Link href={`/u/${p.author.identityId}`}>{authorName(p.author)}</Link> · {new Date(p.createdAt).toLocaleString()}{' '}
        {ready && p.author.identityId !== state.identity?.identityId ? <FollowButton identityId={p.author.identityId} /> : null}
      </p>
      <figure class="art-frame">
        <PixelArt src={p.media.url} width={p.media.width} height={p.media.height} max={size} alt={p.title} />
        <figcaption>
          {p.media.width}×{p.media.height}
          {p.media.frames > 1 ? `, ${p.media.frames} frames` : ''}
        </figcaption>
      </figure>
      {p.description ? <p>{p.description}</p> : null}
      {p.hashtags.length ? (
        <p class="tags">
          {p.hashtags.map((t) => (
            <Link href={`/tag/${encodeURIComponent(t)}`}>#{t} </Link>
          ))}
        </p>
      ) : null}
      {error ? (
        <p role="alert" class="error">
          {error}
        </p>
      ) : null}

      <h2>Reactions</h2>
      <div class="reactions" role="group" aria-label="Reactions">
        {EMOJI.map((emoji) => {
          const on = reacted.has(emoji)
          const capped = !on && reacted.size >= REACTION_CAP
          return (
            <button
              type="button"
              class="reaction"
              aria-pressed={on}
              disabled={!ready || capped}
              title={capped ? `At most ${REACTION_CAP} different reactions per post` : undefined}
              onClick={() => void run((s) => (on ? s.unreact(p.postId, emoji) : s.react(p.postId, emoji)))}
            >
              {emoji} <span data-testid={`count-${emoji}`}>{countOf(emoji)}</span>
              {pendingEmoji.has(emoji) ? <span class="badge-pending"> pending</span> : null}
            </button>
          )
        })}
      </div>
      {!ready ? (
        <p>
          <Link href="/welcome">Create an identity</Link> to react and comment.
        </p>
      ) : null}

      <h2>Comments</h2>
      <ul class="comments" data-testid="comments">
        {p.comments.map((c) => (
          <CommentItem
            comment={c}
            canReply={ready}
            pending={pendingComments.filter((r) => r.payload.parentId === c.commentId)}
            replying={replyTo === c.commentId}
            onReply={() => setReplyTo(replyTo === c.commentId ? undefined : c.commentId)}
            replyText={reply}
            setReplyText={setReply}
            send={() =>
              void run((s) => s.comment(p.postId, reply.trim(), { parentId: c.commentId })).then(() => {
                setReply('')
                setReplyTo(undefined)
              })
            }
          />
        ))}
        {pendingComments
          .filter((r) => !r.payload.parentId)
          .map((r) => (
            <PendingComment receipt={r} />
          ))}
      </ul>
      {ready ? (
        <form
          class="panel"
          aria-labelledby="comment-heading"
          onSubmit={(e) => {
            e.preventDefault()
            if (!comment.trim()) return
            void run((s) => s.comment(p.postId, comment.trim())).then(() => setComment(''))
          }}
        >
          <h3 id="comment-heading">Add a comment</h3>
          <label for="comment-body">Comment</label>
          <textarea id="comment-body" maxLength={2000} rows={3} value={comment} onInput={(e) => setComment(e.currentTarget.value)} />
          <button type="submit" class="primary" disabled={!comment.trim()}>
            Post comment
          </button>
        </form>
      ) : null}
      {ready ? <ReportForm postId={p.postId} /> : null}
    </section>
  )
}

function PendingComment({ receipt }: { receipt: Receipt }) {
  return (
    <li class="comment pending">
      <p>{receipt.payload.body as string}</p>
      <p class="badge-pending">Pending — not yet on the relay</p>
    </li>
  )
}

function CommentItem(props: {
  comment: CommentJson
  canReply: boolean
  pending: Receipt[]
  replying: boolean
  onReply: () => void
  replyText: string
  setReplyText: (text: string) => void
  send: () => void
}) {
  const c = props.comment
  const id = `reply-${c.commentId}`
  return (
    <li class="comment">
      <p class="byline">
        <Link href={`/u/${c.author.identityId}`}>{c.author.handle ? `@${c.author.handle}` : c.author.identityId}</Link>
      </p>
      <p>{c.deleted ? <em>deleted</em> : c.body}</p>
      {props.canReply && !c.deleted ? (
        <button type="button" class="link-button" aria-expanded={props.replying} onClick={props.onReply}>
          Reply
        </button>
      ) : null}
      {props.replying ? (
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault()
            if (props.replyText.trim()) props.send()
          }}
        >
          <label for={id}>Reply</label>
          <input id={id} maxLength={2000} value={props.replyText} onInput={(e) => props.setReplyText(e.currentTarget.value)} />
          <button type="submit">Send reply</button>
        </form>
      ) : null}
      {c.replies.length || props.pending.length ? (
        <ul class="replies">
          {c.replies.map((r) => (
            <li class="comment">
              <p class="byline">
                <Link href={`/u/${r.author.identityId}`}>{r.author.handle ? `@${r.author.handle}` : r.author.identityId}</Link>
              </p>
              <p>{r.deleted ? <em>deleted</em> : r.body}</p>
            </li>
          ))}
          {props.pending.map((r) => (
            <PendingComment receipt={r} />
          ))}
        </ul>
      ) : null}
    </li>
  )
}

const REASON_LABELS: Record<(typeof REPORT_REASONS)[number], string> = {
  spam: 'Spam',
  harassment: 'Harassment',
  hate: 'Hate',
  sexual_explicit: 'Sexually explicit',
  violence_gore: 'Violence or gore',
  illegal_csam: 'Child sexual abuse material',
  self_harm: 'Self-harm',
  copyright: 'Copyright',
  other: 'Something else',
}

function ReportForm({ postId }: { postId: string }) {
  const [reason, setReason] = useState<(typeof REPORT_REASONS)[number]>('spam')
  const [note, setNote] = useState('')
  const [done, setDone] = useState<string | undefined>()
  return (
    <details class="panel">
      <summary>Report this post</summary>
      <form
        onSubmit={(e) => {
          e.preventDefault()
          void act((s) => s.report({ postId }, reason, note.trim() || undefined)).then(
            () => setDone('Reported. A moderator will look at it.'),
            (err: unknown) => setDone((err as Error).message),
          )
        }}
      >
        <label for="report-reason">Reason</label>
        <select id="report-reason" value={reason} onChange={(e) => setReason(e.currentTarget.value as typeof reason)}>
          {REPORT_REASONS.map((r) => (
            <option value={r}>{REASON_LABELS[r]}</option>
          ))}
        </select>
        <label for="report-note">Note (optional)</label>
        <textarea id="report-note" maxLength={2000} rows={2} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        <button type="submit">Send report</button>
        {done ? <p role="status">{done}</p> : null}
      </form>
    </details>
  )
}
