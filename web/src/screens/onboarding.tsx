import { useState } from 'preact/hooks'
import { navigate } from '../app/router.js'
import { useStore } from '../app/store.js'
import { parseBackup } from '../identity/backup.js'
import { createIdentity, identityState, importBackup } from '../identity/identity-session.js'
import { LinkForm } from '../identity/link-form.js'

/** First run: create an identity here, or bring one from another browser (link by a code, or a backup file). */
export default function Onboarding() {
  const state = useStore(identityState)
  const [name, setName] = useState('')
  const [handle, setHandle] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | undefined>()
  const [passphrase, setPassphrase] = useState('')
  const [file, setFile] = useState<File | undefined>()

  if (state.phase === 'ready') {
    return (
      <section class="screen">
        <h1 tabIndex={-1}>Welcome, {state.identity?.displayName}</h1>
        <p>This device already holds your identity.</p>
        <button type="button" class="primary" onClick={() => navigate('/identity')}>
          Open identity
        </button>
      </section>
    )
  }

  const run = async (action: () => Promise<unknown>) => {
    setBusy(true)
    setError(undefined)
    try {
      await action()
      navigate('/identity')
    } catch (e) {
      setError((e as Error).message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section class="screen">
      <h1 tabIndex={-1}>Welcome to PixPax</h1>
      {error ? (
        <p role="alert" class="error">
          {error}
        </p>
      ) : null}
      <form
        class="panel"
        aria-labelledby="create-heading"
        onSubmit={(e) => {
          e.preventDefault()
          void run(() => createIdentity(name, handle.trim() || undefined))
        }}
      >
        <h2 id="create-heading">Create your identity</h2>
        <p>A signing key is made in this browser and never leaves it. You can add other devices later with a backup.</p>
        <label for="display-name">Display name</label>
        <input
          id="display-name"
          name="displayName"
          required
          maxLength={64}
          autoComplete="nickname"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <label for="handle">Handle (optional)</label>
        <input
          id="handle"
          name="handle"
          maxLength={32}
          pattern="[A-Za-z0-9_\-]{1,32}"
          aria-describedby="handle-hint"
          autoComplete="username"
          value={handle}
          onInput={(e) => setHandle(e.currentTarget.value)}
        />
        <p id="handle-hint" class="hint">
          How others find you: letters, digits, _ and -. Left empty, one is made from your name.
        </p>
        <button type="submit" class="primary" disabled={busy || name.trim() === ''}>
          Create identity
        </button>
      </form>
      <form
        class="panel"
        aria-labelledby="import-heading"
        onSubmit={(e) => {
          e.preventDefault()
          void run(async () => {
            if (!file) throw new Error('choose a backup file')
            await importBackup(parseBackup(await file.text()), passphrase)
          })
        }}
      >
        <h2 id="import-heading">Import a backup</h2>
        <label for="backup-file">Backup file</label>
        <input id="backup-file" type="file" accept=".json,application/json" onChange={(e) => setFile(e.currentTarget.files?.[0])} />
        <label for="import-passphrase">Passphrase</label>
        <input
          id="import-passphrase"
          type="password"
          autoComplete="current-password"
          value={passphrase}
          onInput={(e) => setPassphrase(e.currentTarget.value)}
        />
        <button type="submit" disabled={busy || !file || passphrase === ''}>
          Import identity
        </button>
      </form>
      <LinkForm />
    </section>
  )
}
