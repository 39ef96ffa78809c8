/**
 * Receipts you can verify: every stream this device holds, each receipt with its badges (signature,
 * chain, key valid at its position, relay ack, in the signed checkpoint), the checkpoint itself, and a
 * red state with the reason for anything refused. Export: the log as NDJSON (what `pixpax verify`
 * reads) and a proof bundle (the checkpoint note, the relay key, our acks).
 */
import { exportNdjson } from '@pixpax/client-sdk'
import { useEffect, useState } from 'preact/hooks'
import { useStore } from '../app/store.js'
import { changes, identityState, localLogAndClient } from '../identity/identity-session.js'
import { auditLocalLog, type Audit, type AuditedStream, type Badge } from '../receipts/audit.js'
import { downloadBlob } from '../util/download.js'

function BadgeView({ name, badge }: { name: string; badge: Badge }) {
  const state = badge.ok === true ? 'ok' : badge.ok === false ? 'failed' : 'na'
  const text = badge.ok === true ? '✓' : badge.ok === false ? '✗' : '–'
  const why = badge.ok === true ? 'verified' : badge.reason
  return (
    <span class={`badge badge-${state}`} data-badge={name} data-state={state} title={why}>
      {text} {name}
      <span class="visually-hidden">: {why}</span>
    </span>
  )
}

function StreamView({ stream }: { stream: AuditedStream }) {
  const failed = stream.quarantined.length > 0 || stream.receipts.some((r) => !r.verified)
  return (
    <section class={`panel stream ${failed ? 'stream-failed' : ''}`} data-stream={stream.streamKey} data-state={failed ? 'failed' : 'ok'}>
      <h2>{stream.streamKey}</h2>
      {failed ? (
        <p class="error" role="alert">
          Not verified: {stream.quarantined.length > 0 ? `${stream.quarantined.length} delivery refused` : 'a receipt failed its checks'}.
        </p>
      ) : (
        <p class="ok">All {stream.receipts.length} receipts verified on this device.</p>
      )}
      {stream.quarantined.map((q) => (
        <div class="quarantined" data-code={q.code}>
          <strong>{q.code}</strong>: {q.message}
        </div>
      ))}
      <ol class="receipt-list">
        {stream.receipts.map((r) => (
          <li data-type={r.receipt.type} data-verified={r.verified}>
            <div>
              <strong>
                #{r.seq} {r.receipt.type}
              </strong>{' '}
              <span class="muted">
                {new Date(r.receipt.createdAt).toLocaleString()} · position {r.position ?? '—'}
              </span>
            </div>
            <div class="badges">
              <BadgeView name="signature" badge={r.signature} />
              <BadgeView name="chain" badge={r.chain} />
              <BadgeView name="key" badge={r.key} />
              <BadgeView name="relay ack" badge={r.ack} />
              <BadgeView name="checkpoint" badge={r.checkpoint} />
            </div>
            <code class="hash">{r.receipt.hash}</code>
          </li>
        ))}
      </ol>
      {stream.pending.length ? (
        <ul class="pending-list">
          {stream.pending.map((e) => (
            <li data-type={e.receipt.type}>
              {e.receipt.type}: {e.state === 'acked' ? 'acked by the relay, not yet verified back' : e.state}
              {e.error ? ` — ${e.error.code}: ${e.error.message}` : ''}
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  )
}

export default function Receipts() {
  const tick = useStore(changes)
  const state = useStore(identityState)
  const [audit, setAudit] = useState<Audit | undefined>()
  const [error, setError] = useState<string | undefined>()
  useEffect(() => {
    const held = localLogAndClient()
    if (!held) return
    let cancelled = false
    auditLocalLog(held.log, held.client).then(
      (a) => !cancelled && setAudit(a),
      (e: unknown) => !cancelled && setError((e as Error).message),
    )
    return () => {
      cancelled = true
    }
  }, [tick, state.phase, state.identity?.identityId])

  const exportLog = async () => {
    const held = localLogAndClient()
    if (!held) return
    const lines: string[] = []
    for await (const line of exportNdjson(held.log)) lines.push(line)
    downloadBlob(new Blob(lines, { type: 'application/x-ndjson' }), 'pixpax-receipts.ndjson')
  }
  const exportProofs = async () => {
    const held = localLogAndClient()
    if (!held || !audit) return
    const acks = []
    for await (const logged of held.log.scan()) {
      if (logged.ack) acks.push(logged.ack)
    }
    const bundle = { format: 'pixpax-proof-bundle', v: 1, relay: audit.relay, checkpoint: audit.checkpoint?.note, acks }
    downloadBlob(new Blob([JSON.stringify(bundle, null, 2)], { type: 'application/json' }), 'pixpax-proofs.json')
  }

  return (
    <section class="screen">
      <h1 tabIndex={-1}>Receipts</h1>
      <p class="lead">Everything this device holds, checked again here — not taken on the relay's word.</p>
      {error ? <p class="error">{error}</p> : null}
      {!audit ? (
        <p aria-busy="true">Verifying…</p>
      ) : (
        <>
          <section class="panel" aria-labelledby="checkpoint-heading" data-testid="checkpoint">
            <h2 id="checkpoint-heading">Signed checkpoint</h2>
            {audit.checkpoint ? (
              <dl class="facts">
                <dt>Log size</dt>
                <dd>{audit.checkpoint.size}</dd>
                <dt>Signature</dt>
                <dd>
                  <BadgeView name="relay signature" badge={audit.checkpoint.valid} />
                </dd>
                <dt>Relay key</dt>
                <dd>
                  <code>{audit.relay?.publicKeyId}</code>
                </dd>
                <dt>Witnesses</dt>
                <dd>
                  {audit.checkpoint.cosignatures === 0
                    ? 'no cosignatures on this checkpoint'
                    : `${audit.checkpoint.cosignatures} cosignature(s), not checked (no witness keys configured)`}
                </dd>
              </dl>
            ) : (
              <p>No checkpoint yet: nothing has been delivered from the relay.</p>
            )}
            <div class="row">
              <button type="button" onClick={() => void exportLog()}>
                Export NDJSON
              </button>
              <button type="button" onClick={() => void exportProofs()}>
                Export proof bundle
              </button>
            </div>
          </section>
          {audit.general.map((q) => (
            <p class="error" role="alert">
              <strong>{q.code}</strong>: {q.message}
            </p>
          ))}
          {audit.streams.map((s) => (
            <StreamView stream={s} />
          ))}
        </>
      )}
    </section>
  )
}
