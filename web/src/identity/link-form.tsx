/**
 * On a new browser (welcome page): "Link to an identity". Types the code shown on the signed-in browser,
 * shows this browser's key fingerprint to compare, and waits for the approval; then this browser is that
 * identity, with its own key.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { navigate } from '../app/router.js'
import { linkThisBrowser, type LinkAttempt } from './link-device.js'
import './link.css'

export function LinkForm() {
  const [code, setCode] = useState('')
  const [attempt, setAttempt] = useState<LinkAttempt | undefined>()
  const [error, setError] = useState<string | undefined>()
  const [busy, setBusy] = useState(false)
  const current = useRef<LinkAttempt | undefined>(undefined)
  useEffect(() => () => current.current?.cancel(), [])

  return (
    <form
      class="panel"
      aria-labelledby="link-form-heading"
      onSubmit={(e) => {
        e.preventDefault()
        setBusy(true)
        setError(undefined)
        linkThisBrowser(code).then(
          (a) => {
            current.current = a
            setAttempt(a)
            a.approved.then(
              () => navigate('/identity'),
              (err: unknown) => {
                setAttempt(undefined)
                setBusy(false)
                setError((err as Error).message)
              },
            )
          },
          (err: unknown) => {
            setBusy(false)
            setError((err as Error).message)
          },
        )
      }}
    >
      <h2 id="link-form-heading">Link to an identity</h2>
      <p>Already using PixPax in another browser? Open its Identity page, choose “Show a link code” and type the code here.</p>
      {error ? (
        <p role="alert" class="error">
          {error}
        </p>
      ) : null}
      <label for="link-code">Link code</label>
      <input
        id="link-code"
        value={code}
        maxLength={12}
        autoComplete="off"
        autoCapitalize="characters"
        spellcheck={false}
        disabled={busy}
        onInput={(e) => setCode(e.currentTarget.value.toUpperCase())}
      />
      <button type="submit" disabled={busy || code.trim().length < 6}>
        Link this browser
      </button>
      {attempt ? (
        <p role="status">
          Check that the other browser shows this fingerprint, then approve it there:{' '}
          <strong class="fingerprint" data-testid="my-fingerprint">
            {attempt.fingerprint}
          </strong>
          . Waiting for approval…
        </p>
      ) : null}
    </form>
  )
}
