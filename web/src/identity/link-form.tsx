/**
 * On a new browser (welcome page): "Link to an identity". Types the code shown on the signed-in browser,
 * shows this browser's key fingerprint to compare, and waits for the approval; then this browser is that
 * identity, with its own key.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import { navigate } from '../app/router.js'
import { linkThisBrowser, resumeLink, type LinkAttempt } from './link-device.js'
import './link.css'

export function LinkForm() {
  const [code, setCode] = useState('')
  const [attempt, setAttempt] = useState<LinkAttempt | undefined>()
  const [error, setError] = useState<string | undefined>()
  const [busy, setBusy] = useState(false)
  const current = useRef<LinkAttempt | undefined>(undefined)
  const follow = (a: LinkAttempt) => {
    current.current = a
    setAttempt(a)
    setBusy(true)
    a.approved.then(
      () => navigate('/identity'),
      (err: unknown) => {
        if (current.current !== a) return
        setAttempt(undefined)
        setBusy(false)
        setError((err as Error).message)
      },
    )
  }
  // A claim made before a reload is still waiting: show its fingerprint and keep waiting.
  useEffect(() => {
    const resumed = resumeLink()
    if (resumed) follow(resumed)
    return () => {
      const a = current.current
      current.current = undefined
      a?.cancel()
    }
  }, [])

  return (
    <form
      class="panel"
      aria-labelledby="link-form-heading"
      onSubmit={(e) => {
        e.preventDefault()
        setBusy(true)
        setError(undefined)
        linkThisBrowser(code).then(follow, (err: unknown) => {
          setBusy(false)
          setError((err as Error).message)
        })
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
