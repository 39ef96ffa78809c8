/** A one-line download progress bar for a TTY (redrawn in place with `\r`); silent elsewhere. */
export interface ProgressOut {
  isTTY?: boolean
  columns?: number
  write(text: string): unknown
}

const formatBytes = (n: number): string =>
  n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`

export function progressBar(out: ProgressOut, label: string): { update(received: number, total: number | undefined): void; done(): void } {
  if (!out.isTTY) return { update: () => undefined, done: () => undefined }
  const width = 24
  let last = ''
  return {
    update(received, total) {
      const fraction = total ? Math.min(1, received / total) : 0
      const filled = Math.round(fraction * width)
      const bar = total
        ? `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}%`
        : '[downloading]'
      const line = `${label} ${bar} ${formatBytes(received)}${total ? ` / ${formatBytes(total)}` : ''}`
      if (line !== last) out.write(`\r${line.slice(0, (out.columns ?? 100) - 1)}\x1b[K`)
      last = line
    },
    done() {
      if (last) out.write('\r\x1b[K')
    },
  }
}
