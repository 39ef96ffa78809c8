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

  constructor(defaults = false) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'pixpax_' })
  }
}
