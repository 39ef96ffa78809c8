/**
 * On the signed-in browser (identity screen): "Link another browser". Shows a short code for the other
 * browser to type, then the keys submitted with it, each with its fingerprint to compare with the one
 * the other browser shows, and an Approve button (KEY_ADDED signed here).
 */
import type { LinkCode, PendingLink } from '@pixpax/client-sdk'
import { useEffect, useState } from 'preact/hooks'
import { approve, keyFingerprint, LINK_POLL_MS, newLinkCode, submittedKeys } from './link-device.js'
import './link.css'

export function LinkPanel() {
  const [code, setCode] = useState<LinkCode | undefined>()
  const [links, setLinks] = useState<PendingLink[]>([])
  const [approving, setApproving] = useState<Set<string>>(new Set())
  const [error, setError] = useState<string | undefined>()

  // While a code is out, watch for the keys submitted with it (the other browser claims it any time).
  useEffect(() => {
    if (!code) return
    let stopped = false
    const look = () =>
      void submittedKeys().then(
        (found) => !stopped && setLinks(found.filter((l) => l.state !== 'expired')),
        () => undefined, // offline for a moment: look again
      )
    look()
    const timer = setInterval(look, LINK_POLL_MS)
    return () => {
      stopped = true
      clearInterval(timer)
    }
  }, [code])

  return (
    <section class="panel" aria-labelledby="link-heading">
      <h2 id="link-heading">Link another browser</h2>
      <p>
        The other browser makes its own key; you approve it here. On the other browser choose <em>Link to an identity</em> on the welcome
        page and type the code.
      </p>
      {error ? (
        <p role="alert" class="error">
          {error}
        </p>
      ) : null}
      <button
        type="button"
        onClick={() => {
          setError(undefined)
          newLinkCode().then(setCode, (e: unknown) => setError((e as Error).message))
        }}
      >
        {code ? 'New link code' : 'Show a link code'}
      </button>
      {code ? (
        <p>
          Link code:{' '}
          <strong class="link-code" data-testid="link-code">
            {code.code}
          </strong>{' '}
          (until {new Date(code.expiresAt).toLocaleTimeString()}, once)
        </p>
      ) : null}
      {links.length ? (
        <ul aria-live="polite" data-testid="link-requests">
          {links.map((l) => (
            <li key={l.linkId} data-state={l.state}>
              Key with fingerprint{' '}
              <strong class="fingerprint" data-testid="link-fingerprint">
                {keyFingerprint(l.publicKeyId)}
              </strong>{' '}
              {l.state === 'approved' ? (
                <span class="ok">added to this identity</span>
              ) : approving.has(l.linkId) ? (
                <span class="badge-pending">approval pending</span>
              ) : (
                <button
                  type="button"
                  class="primary"
                  aria-label={`Approve the key ${keyFingerprint(l.publicKeyId)}`}
                  onClick={() => {
                    setApproving(new Set([...approving, l.linkId]))
                    approve(l).catch((e: unknown) => setError((e as Error).message))
                  }}
                >
                  Approve
                </button>
              )}
            </li>
          ))}
        </ul>
      ) : code ? (
        <p class="hint">Waiting for the other browser…</p>
      ) : null}
      <p class="hint">Approve only if the fingerprint is the one the other browser shows.</p>
    </section>
  )
}
