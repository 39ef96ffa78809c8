/**
 * Players: pair one by the code on its screen, see each online or offline with what it shows, rename or
 * remove it, send it an artwork or a playlist, and control it — only the controls its declared
 * capabilities allow. Commands are DEVICE_COMMAND receipts signed in this browser; the player's answer
 * (its DEVICE_COMMAND_ACK, verified) is shown beside each.
 */
import { allowedCommands, type CommandArgs, type DeviceListing } from '@pixpax/client-sdk'
import type { Receipt } from '@pixpax/shared'
import { useEffect, useState } from 'preact/hooks'
import { useStore } from '../app/store.js'
import { changes, identityState, localReceipts } from '../identity/identity-session.js'
import { command, pair, rename, unpair, useCommands, useDevices } from '../players/devices.js'
import '../players/players.css'
import { act } from '../social/acts.js'
import { useRelayQuery, type Page, type PostJson } from '../social/relay-api.js'
import { useAction, type ActionMessage } from '../util/use-action.js'

type Message = ActionMessage

function Feedback({ message }: { message: Message }) {
  if (!message) return null
  return (
    <p role={message.kind === 'error' ? 'alert' : 'status'} class={message.kind}>
      {message.text}
    </p>
  )
}

interface Playlist {
  playlistId: string
  title: string
}

/** My playlists, folded from my verified profile stream (newest title wins, deleted ones dropped). */
function usePlaylists(): Playlist[] {
  const tick = useStore(changes)
  const me = useStore(identityState).identity?.identityId
  const [lists, setLists] = useState<Playlist[]>([])
  useEffect(() => {
    if (!me) return
    void localReceipts(`profile/${me}`).then((receipts: Receipt[]) => {
      const byId = new Map<string, Playlist>()
      for (const r of receipts) {
        const id = r.payload.playlistId as string | undefined
        if (!id) continue
        if (r.type === 'PLAYLIST_CREATED') byId.set(id, { playlistId: id, title: String(r.payload.title) })
        if (r.type === 'PLAYLIST_UPDATED' && typeof r.payload.title === 'string' && byId.has(id))
          byId.set(id, { playlistId: id, title: r.payload.title })
        if (r.type === 'PLAYLIST_DELETED') byId.delete(id)
      }
      setLists([...byId.values()])
    })
  }, [tick, me])
  return lists
}

function PairForm() {
  const [code, setCode] = useState('')
  const [name, setName] = useState('')
  const [message, busy, run] = useAction()
  return (
    <form
      class="panel"
      aria-labelledby="pair-heading"
      onSubmit={(e) => {
        e.preventDefault()
        void run(async () => {
          const paired = await pair(code, name.trim() || 'Player')
          setCode('')
          setName('')
          return `Paired ${paired}.`
        })
      }}
    >
      <h2 id="pair-heading">Pair a player</h2>
      <p class="hint">Enter the 6-character code the player shows on its screen.</p>
      <label for="pair-code">Pairing code</label>
      <input
        id="pair-code"
        value={code}
        required
        maxLength={12}
        autoComplete="off"
        autoCapitalize="characters"
        spellcheck={false}
        onInput={(e) => setCode(e.currentTarget.value.toUpperCase())}
      />
      <label for="pair-name">Name</label>
      <input id="pair-name" value={name} maxLength={100} placeholder="Kitchen" onInput={(e) => setName(e.currentTarget.value)} />
      <button type="submit" class="primary" disabled={busy || code.trim().length < 6}>
        Pair player
      </button>
      <Feedback message={message} />
    </form>
  )
}

function describeCommand(name: string, args?: CommandArgs): string {
  return args ? `${name} ${Object.values(args).join(' ')}` : name
}

function Controls({ device }: { device: DeviceListing }) {
  const allowed = new Set(allowedCommands(device.capabilities))
  const me = useStore(identityState).identity
  const posts = useRelayQuery<Page<PostJson>>(me ? `/v1/feeds/user/${encodeURIComponent(me.identityId)}?limit=50` : undefined)
  const playlists = usePlaylists()
  const [postId, setPostId] = useState('')
  const [playlistId, setPlaylistId] = useState('')
  const [brightness, setBrightness] = useState(80)
  const [rotation, setRotation] = useState('0')
  const [message, busy, run] = useAction()
  const send = (name: string, args?: CommandArgs, what = describeCommand(name, args)) =>
    void run(async () => {
      await command(device.deviceIdentityId, name, args)
      return `Sent ${what} to ${device.name}.`
    })
  const id = device.deviceIdentityId
  const myPosts = posts.data?.items ?? []
  return (
    <div class="player-controls">
      <div role="group" aria-label={`Remote control of ${device.name}`} class="row">
        {(['back', 'pause', 'resume', 'next'] as const)
          .filter((c) => allowed.has(c))
          .map((c) => (
            <button type="button" key={c} disabled={busy} onClick={() => send(c)}>
              {{ back: '‹ Back', pause: 'Pause', resume: 'Resume', next: 'Next ›' }[c]}
            </button>
          ))}
      </div>
      {allowed.has('brightness') ? (
        <div class="inline-form">
          <label for={`brightness-${id}`}>Brightness {brightness}%</label>
          <input
            id={`brightness-${id}`}
            type="range"
            min={0}
            max={100}
            value={brightness}
            onInput={(e) => setBrightness(Number(e.currentTarget.value))}
          />
          <button type="button" disabled={busy} onClick={() => send('brightness', { value: brightness })}>
            Set brightness
          </button>
        </div>
      ) : null}
      {allowed.has('rotation') ? (
        <div class="inline-form">
          <label for={`rotation-${id}`}>Rotation</label>
          <select id={`rotation-${id}`} value={rotation} onChange={(e) => setRotation(e.currentTarget.value)}>
            {['0', '90', '180', '270'].map((r) => (
              <option key={r} value={r}>
                {r}°
              </option>
            ))}
          </select>
          <button type="button" disabled={busy} onClick={() => send('rotation', { value: Number(rotation) })}>
            Rotate
          </button>
        </div>
      ) : null}
      {allowed.has('mirror') ? (
        <div class="row">
          <button type="button" disabled={busy} onClick={() => send('mirror', { value: true })}>
            Mirror on
          </button>
          <button type="button" disabled={busy} onClick={() => send('mirror', { value: false })}>
            Mirror off
          </button>
        </div>
      ) : null}
      <div class="inline-form">
        <label for={`artwork-${id}`}>Artwork</label>
        <select id={`artwork-${id}`} value={postId} onChange={(e) => setPostId(e.currentTarget.value)}>
          <option value="">{myPosts.length ? 'Choose one of my posts' : 'No posts of mine yet'}</option>
          {myPosts.map((p) => (
            <option key={p.postId} value={p.postId}>
              {p.title}
            </option>
          ))}
        </select>
        <button
          type="button"
          disabled={busy || !postId}
          onClick={() => send('show', { postId }, `“${myPosts.find((p) => p.postId === postId)?.title ?? postId}”`)}
        >
          Show on player
        </button>
      </div>
      <div class="inline-form">
        <label for={`playlist-${id}`}>Playlist</label>
        <select id={`playlist-${id}`} value={playlistId} onChange={(e) => setPlaylistId(e.currentTarget.value)}>
          <option value="">{playlists.length ? 'Choose a playlist' : 'No playlists yet'}</option>
          {playlists.map((p) => (
            <option key={p.playlistId} value={p.playlistId}>
              {p.title}
            </option>
          ))}
        </select>
        <button
          type="button"
          disabled={busy || !playlistId}
          onClick={() =>
            send('play-playlist', { playlistId }, `playlist “${playlists.find((p) => p.playlistId === playlistId)?.title ?? playlistId}”`)
          }
        >
          Play playlist
        </button>
        {me ? (
          <button type="button" disabled={busy} onClick={() => send('play-channel', { channel: `user:${me.identityId}` })}>
            Play all my posts
          </button>
        ) : null}
        {myPosts.length ? (
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              void run(async () => {
                const playlistId = `pl-${Date.now().toString(36)}`
                await act((s) =>
                  s.createPlaylist({
                    playlistId,
                    title: `My posts ${new Date().toLocaleDateString()}`,
                    postIds: myPosts.map((p) => p.postId),
                  }),
                )
                setPlaylistId(playlistId)
                return 'Playlist of my posts made (it is listed once the relay has it).'
              })
            }
          >
            New playlist of my posts
          </button>
        ) : null}
      </div>
      <Feedback message={message} />
      <CommandLog deviceIdentityId={id} />
    </div>
  )
}

function CommandLog({ deviceIdentityId }: { deviceIdentityId: string }) {
  const sent = useCommands(deviceIdentityId)
  if (sent.length === 0) return null
  return (
    <>
      <h3>Commands</h3>
      <ol class="command-log" aria-live="polite" data-testid="command-log">
        {sent.map((c) => (
          <li key={c.eventId} data-command={c.command} data-result={c.ack?.result ?? (c.pending ? 'pending' : 'sent')}>
            <span>{describeCommand(c.command, c.args)}</span>{' '}
            {c.ack ? (
              <strong class={c.ack.result === 'done' ? 'ok' : 'error'}>
                {c.ack.result}
                {c.ack.message ? `: ${c.ack.message}` : ''}
              </strong>
            ) : (
              <span class="badge-pending">{c.pending ? 'pending' : 'waiting for the player'}</span>
            )}
          </li>
        ))}
      </ol>
    </>
  )
}

function PlayerCard({ device }: { device: DeviceListing }) {
  const [name, setName] = useState(device.name)
  const [message, busy, run] = useAction()
  const id = device.deviceIdentityId
  const hex = device.artwork?.replace(/^sha256:/, '')
  const caps = device.capabilities
  return (
    <li class="panel player" data-testid="player" data-device={id}>
      <h2>{device.name}</h2>
      <p>
        <span class="player-status" data-testid="player-status" data-online={String(device.online)}>
          <span class="dot" aria-hidden="true" /> {device.online ? 'Online' : 'Offline'}
        </span>
        {device.lastSeenAt ? ` · last heard ${new Date(device.lastSeenAt).toLocaleTimeString()}` : ' · not heard from yet'}
        {/* 'unpaired' is the player's own report from before this pairing reached it: not worth showing. */}
        {device.state && device.state !== 'unpaired' ? ` · ${device.state}` : ''}
      </p>
      {hex ? (
        <figure class="art-frame">
          <img class="pixel-art player-art" src={`/v1/media/sha256/${hex}`} alt="What the player shows now" width={64} height={64} />
          <figcaption>
            Now showing <code>{hex.slice(0, 12)}…</code>
          </figcaption>
        </figure>
      ) : null}
      <p class="hint">
        {caps
          ? `${caps.display} display, up to ${caps.maxWidth}×${caps.maxHeight}${caps.animation ? ', animated' : ', stills only'}` +
            `${caps.brightness ? ', brightness' : ''}${caps.rotation ? ', rotation' : ''}${caps.mirror ? ', mirror' : ''}`
          : 'Capabilities not reported yet'}
      </p>
      <Controls device={device} />
      <details>
        <summary>Rename or remove</summary>
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault()
            void run(async () => {
              await rename(id, name.trim())
              return `Renamed to ${name.trim()}.`
            })
          }}
        >
          <label for={`name-${id}`}>New name</label>
          <input id={`name-${id}`} value={name} maxLength={100} required onInput={(e) => setName(e.currentTarget.value)} />
          <button type="submit" disabled={busy || !name.trim()}>
            Rename
          </button>
        </form>
        <button
          type="button"
          class="danger"
          disabled={busy}
          onClick={() =>
            void run(async () => {
              await unpair(id)
              return `${device.name} removed: it no longer reads this account.`
            })
          }
        >
          Remove {device.name}
        </button>
      </details>
      <Feedback message={message} />
    </li>
  )
}

export default function Players() {
  const { devices, error } = useDevices()
  return (
    <section class="screen">
      <h1 tabIndex={-1}>Players</h1>
      <PairForm />
      {error ? (
        <p role="alert" class="error">
          {error}
        </p>
      ) : null}
      {!devices ? (
        <p aria-busy="true">Loading players…</p>
      ) : devices.length === 0 ? (
        <p>No players yet: pair one above.</p>
      ) : (
        <ul class="players" aria-label="My players">
          {devices.map((d) => (
            <PlayerCard key={d.deviceIdentityId} device={d} />
          ))}
        </ul>
      )}
    </section>
  )
}
