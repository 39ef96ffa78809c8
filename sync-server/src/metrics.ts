/** Prometheus metrics (prom-client), one registry per app so tests and replicas don't share state. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export class Metrics {
  readonly registry = new Registry()
  readonly httpDuration = new Histogram({
    name: 'pixpax_http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  })
  readonly receiptsAccepted = new Counter({
    name: 'pixpax_receipts_accepted_total',
    help: 'Receipts accepted, by stream type',
    labelNames: ['stream_type'],
    registers: [this.registry],
  })
  readonly receiptsRejected = new Counter({
    name: 'pixpax_receipts_rejected_total',
    help: 'Receipts rejected, by error code',
    labelNames: ['code'],
    registers: [this.registry],
  })
  readonly projectionLag = new Gauge({
    name: 'pixpax_projection_lag_receipts',
    help: 'Receipt objects written but not yet projected (open append intents)',
    registers: [this.registry],
  })

  readonly appendPhase = new Histogram({
    name: 'pixpax_append_phase_seconds',
    help: 'Time of each step of a group commit (lock, load, evaluate, intents, objects, sequence, project, commit) and of its release (integrate_* steps, acks)',
    labelNames: ['phase'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  })
  readonly appendBatchReceipts = new Histogram({
    name: 'pixpax_append_batch_receipts',
    help: 'Receipts per group-commit batch',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    registers: [this.registry],
  })

  constructor(defaults = false) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'pixpax_' })
  }
}

/** Where a step's duration goes (a metric in the relay, nowhere by default). */
export type PhaseReport = (phase: string, seconds: number) => void

/**
 * A lap timer: each call reports the time since the previous call (or since the timer was made) under
 * that call's phase name. Costs nothing when there is no report.
 */
export function lapTimer(report: PhaseReport | undefined): (phase: string) => void {
  if (!report) return () => {}
  let last = performance.now()
  return (phase) => {
    const now = performance.now()
    report(phase, (now - last) / 1000)
    last = now
  }
}
