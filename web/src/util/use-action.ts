import { useState } from 'preact/hooks'

/** The outcome of the last action a screen ran: what it said it did, or its error's message. */
export type ActionMessage = { kind: 'ok' | 'error'; text: string } | undefined

/** Runs one action at a time, reporting its outcome (or error) as a message and its progress as busy. */
export function useAction(): [ActionMessage, boolean, (action: () => Promise<string>) => Promise<void>] {
  const [message, setMessage] = useState<ActionMessage>()
  const [busy, setBusy] = useState(false)
  const run = async (action: () => Promise<string>) => {
    setBusy(true)
    setMessage(undefined)
    try {
      setMessage({ kind: 'ok', text: await action() })
    } catch (e) {
      setMessage({ kind: 'error', text: (e as Error).message })
    } finally {
      setBusy(false)
    }
  }
  return [message, busy, run]
}
