import { useState } from 'preact/hooks'
import { navigate } from '../app/router.js'
import { useStore } from '../app/store.js'
import { MIN_PASSPHRASE_LENGTH } from '../identity/backup.js'
import { exportBackup, forgetIdentity, identityState, signIn } from '../identity/identity-session.js'
import { LinkPanel } from '../identity/link-panel.js'
import { downloadBlob } from '../util/download.js'
import { useAction } from '../util/use-action.js'

/** Who this device is: identity and account ids, the relay session, backup export, forgetting. */
export default function IdentityScreen() {
  const state = useStore(identityState)
  const [passphrase, setPassphrase] = useState('')
  const [confirm, setConfirm] = useState('')
  const [message, busy, run] = useAction()
  const identity = state.identity
  if (!identity) return <p aria-busy="true">Loading…</p>

  return (
    <section class="screen">
      <h1 tabIndex={-1}>{identity.displayName}</h1>
      {message ? (
        <p role={message.kind === 'error' ? 'alert' : 'status'} class={message.kind}>
          {message.text}
        </p>
      ) : null}
      <dl class="facts">
        <dt>Identity</dt>
        <dd data-testid="identity-id">{identity.identityId}</dd>
        <dt>Account</dt>
        <dd>{identity.accountId}</dd>
        <dt>Device key</dt>
        <dd>
          <code>{state.publicKeyId}</code> (non-extractable, in this browser)
        </dd>
        <dt>Relay session</dt>
        <dd data-testid="session">
          {state.session ? `signed in until ${new Date(state.session.expiresAt).toLocaleString()}` : 'not signed in'}
        </dd>
      </dl>
      <button
        type="button"
        disabled={busy}
        onClick={() =>
          void run(async () => {
            const s = await signIn()
            return `Signed in as ${s.identityId}.`
          })
        }
      >
        Sign in to the relay
      </button>

      <form
        class="panel"
        aria-labelledby="backup-heading"
        onSubmit={(e) => {
          e.preventDefault()
          void run(async () => {
            if (passphrase !== confirm) throw new Error('the two passphrases differ')
            const file = await exportBackup(passphrase)
            downloadBlob(
              new Blob([JSON.stringify(file, null, 2)], { type: 'application/json' }),
              `pixpax-backup-${identity.identityId}.json`,
            )
            setPassphrase('')
            setConfirm('')
            return 'Backup saved. Keep the file and the passphrase apart; the backup works once this device has synced.'
          })
        }}
      >
        <h2 id="backup-heading">Encrypted backup</h2>
        <p>
          The backup holds a recovery key for this identity, encrypted with your passphrase (PBKDF2-SHA256, 310,000 iterations,
          AES-256-GCM). Import it in another browser to use your identity there.
        </p>
        <label for="backup-passphrase">Passphrase (at least {MIN_PASSPHRASE_LENGTH} characters)</label>
        <input
          id="backup-passphrase"
          type="password"
          autoComplete="new-password"
          minLength={MIN_PASSPHRASE_LENGTH}
          value={passphrase}
          onInput={(e) => setPassphrase(e.currentTarget.value)}
        />
        <label for="backup-confirm">Repeat the passphrase</label>
        <input
          id="backup-confirm"
          type="password"
          autoComplete="new-password"
          value={confirm}
          onInput={(e) => setConfirm(e.currentTarget.value)}
        />
        <button type="submit" class="primary" disabled={busy || passphrase.length < MIN_PASSPHRASE_LENGTH}>
          Export backup
        </button>
      </form>

      <LinkPanel />

      <details class="panel danger">
        <summary>Forget this identity on this device</summary>
        <p>Deletes the key and the local copy from this browser. Without a backup or another device, the identity is lost.</p>
        <button
          type="button"
          class="danger"
          onClick={() =>
            void forgetIdentity().then(() => {
              navigate('/welcome')
            })
          }
        >
          Forget identity
        </button>
      </details>
    </section>
  )
}
