/**
 * Redeem a printed code: paste the token its QR code holds, or scan it with the camera where the
 * browser has the BarcodeDetector API (the button is not shown elsewhere). A redemption is a relay
 * command (the relay signs the pack as the issuer), so it needs the relay; the pack then arrives in the
 * book's stream like any receipt.
 */
import { redeemCode, type RedeemedCode } from '@pixpax/client-sdk'
import { useEffect, useRef, useState } from 'preact/hooks'
import { token } from '../identity/identity-session.js'
import type { BookRef } from './book-data.js'
import { tokenFromScan } from './trade-terms.js'

interface Detector {
  detect(source: HTMLVideoElement): Promise<Array<{ rawValue: string }>>
}
type DetectorClass = new (options: { formats: string[] }) => Detector

const detectorClass = (): DetectorClass | undefined => (globalThis as { BarcodeDetector?: DetectorClass }).BarcodeDetector

function Scanner({ onCode, onClose }: { onCode: (code: string) => void; onClose: (error?: string) => void }) {
  const video = useRef<HTMLVideoElement>(null)
  useEffect(() => {
    const Barcode = detectorClass()
    if (!Barcode) return
    let stream: MediaStream | undefined
    let stopped = false
    const detector = new Barcode({ formats: ['qr_code'] })
    const scan = async () => {
      if (stopped || !video.current) return
      const found = await detector.detect(video.current).catch(() => [])
      if (found[0]) return onCode(tokenFromScan(found[0].rawValue))
      requestAnimationFrame(() => void scan())
    }
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: 'environment' } })
      .then(async (s) => {
        stream = s
        if (stopped || !video.current) return
        video.current.srcObject = s
        await video.current.play()
        void scan()
      })
      .catch((e: unknown) => onClose(`The camera is not available: ${(e as Error).message}`))
    return () => {
      stopped = true
      stream?.getTracks().forEach((t) => t.stop())
    }
  }, [])
  return (
    <div class="scanner">
      <video ref={video} muted playsInline aria-label="Camera preview: hold the code's QR in view" />
      <button type="button" onClick={() => onClose()}>
        Stop scanning
      </button>
    </div>
  )
}

export function CodeRedeem({ book, onRedeemed }: { book: BookRef; onRedeemed: (r: RedeemedCode) => void }) {
  const [code, setCode] = useState('')
  const [busy, setBusy] = useState(false)
  const [scanning, setScanning] = useState(false)
  const [message, setMessage] = useState<string | undefined>()
  const canScan = detectorClass() !== undefined && typeof navigator.mediaDevices?.getUserMedia === 'function'

  const redeem = async (value: string) => {
    setMessage(undefined)
    setBusy(true)
    try {
      const t = await token()
      if (!t) throw new Error('Redeeming a code needs the relay: sign in (you may be offline).')
      const result = await redeemCode(location.origin, t, value, book)
      setCode('')
      onRedeemed(result)
    } catch (e) {
      setMessage((e as Error).message)
    } finally {
      setBusy(false)
    }
  }

  return (
    <section class="panel" aria-labelledby="code-heading">
      <h2 id="code-heading">Redeem a printed code</h2>
      <form
        class="code-form"
        onSubmit={(e) => {
          e.preventDefault()
          if (code.trim()) void redeem(code)
        }}
      >
        <label>
          Code
          <input
            name="code"
            value={code}
            autoComplete="off"
            spellcheck={false}
            onInput={(e) => setCode((e.target as HTMLInputElement).value)}
            placeholder="Paste the code printed under the QR"
          />
        </label>
        <button type="submit" class="primary" disabled={busy || !code.trim()}>
          Redeem code
        </button>
        {canScan && !scanning ? (
          <button type="button" onClick={() => setScanning(true)}>
            Scan with the camera
          </button>
        ) : null}
      </form>
      {scanning ? (
        <Scanner
          onCode={(c) => {
            setScanning(false)
            setCode(c)
            void redeem(c)
          }}
          onClose={(error) => {
            setScanning(false)
            setMessage(error)
          }}
        />
      ) : null}
      {message ? (
        <p role="alert" class="error">
          {message}
        </p>
      ) : null}
    </section>
  )
}
