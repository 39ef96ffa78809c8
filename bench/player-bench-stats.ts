/**
 * What the player bench reads from its relay process to explain its figures: cumulative sums and counts
 * of a prom-client histogram (per label value), their difference over the window, and event-loop delay
 * (perf_hooks.monitorEventLoopDelay) summaries in milliseconds.
 */
import type { IntervalHistogram } from 'node:perf_hooks'

/** The shape of prom-client's `Histogram.get()` that is read here. */
interface HistogramValues {
  values: ReadonlyArray<{ value: number; labels: Record<string, string | number | undefined>; metricName?: string }>
}

/** label value ('' without a label) → cumulative {sum (s), count}. */
export type HistogramTotals = Record<string, { sum: number; count: number }>

export function histogramTotals(metric: HistogramValues, label?: string): HistogramTotals {
  const out: HistogramTotals = {}
  for (const v of metric.values) {
    const key = label ? String(v.labels[label] ?? '') : ''
    const entry = (out[key] ??= { sum: 0, count: 0 })
    if (v.metricName?.endsWith('_sum')) entry.sum = v.value
    else if (v.metricName?.endsWith('_count')) entry.count = v.value
  }
  return out
}

/** b − a, per key. */
export function totalsBetween(a: HistogramTotals, b: HistogramTotals): HistogramTotals {
  const out: HistogramTotals = {}
  for (const [key, { sum, count }] of Object.entries(b)) {
    out[key] = { sum: sum - (a[key]?.sum ?? 0), count: count - (a[key]?.count ?? 0) }
  }
  return out
}

export interface LoopDelay {
  p50_ms: number
  p99_ms: number
  max_ms: number
}

export function loopDelayOf(h: IntervalHistogram): LoopDelay {
  const ms = (ns: number) => +(ns / 1e6).toFixed(1)
  return { p50_ms: ms(h.percentile(50)), p99_ms: ms(h.percentile(99)), max_ms: ms(h.max) }
}

/**
 * Per phase over the window: batches (count), mean ms per batch, and total seconds spent in it — the
 * phase split the bench prints. Phases of the commit and of the release overlap in time (the release of
 * one batch runs while the next commits), so the totals add up to more than the window.
 */
export function phaseSplit(totals: HistogramTotals): Record<string, { n: number; mean_ms: number; total_s: number }> {
  const out: Record<string, { n: number; mean_ms: number; total_s: number }> = {}
  for (const [phase, { sum, count }] of Object.entries(totals)) {
    if (count === 0) continue
    out[phase] = { n: count, mean_ms: +((1000 * sum) / count).toFixed(2), total_s: +sum.toFixed(2) }
  }
  return out
}
