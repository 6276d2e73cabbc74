/** Prometheus metrics: HTTP by route and status with latency histograms, payments, ledger, batches, webhooks. */
import client from 'prom-client';
import type { FlowMetrics } from '../flows/index.ts';

export interface Metrics extends FlowMetrics {
  readonly registry: client.Registry;
  observeRequest(labels: { method: string; route: string; status: number }, seconds: number): void;
  observeBatch(size: number, ms: number): void;
}

export function createMetrics(): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'fenpay_process_' });
  const requests = new client.Counter({ name: 'fenpay_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const latency = new client.Histogram({
    name: 'fenpay_http_request_duration_seconds',
    help: 'HTTP request latency by route, method and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
    registers: [registry],
  });
  const payments = new client.Counter({ name: 'fenpay_payments_total', help: 'Payment attempt outcomes by status, method and channel', labelNames: ['status', 'method', 'channel'], registers: [registry] });
  const transfers = new client.Counter({ name: 'fenpay_ledger_transfers_total', help: 'Ledger transfers written', registers: [registry] });
  const mismatches = new client.Counter({ name: 'fenpay_channel_integrity_mismatch_total', help: 'Channel answers whose amount or currency did not match the attempt', labelNames: ['channel'], registers: [registry] });
  const batchSize = new client.Histogram({ name: 'fenpay_write_batch_size', help: 'Write sets per group commit', buckets: [1, 2, 5, 10, 25, 50, 100, 200, 400], registers: [registry] });
  const batchLatency = new client.Histogram({ name: 'fenpay_write_batch_duration_seconds', help: 'Group commit duration', buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [registry] });
  const webhookAttempts = new client.Histogram({
    name: 'fenpay_webhook_attempt_duration_seconds',
    help: 'Webhook delivery attempts by outcome, with their duration',
    labelNames: ['outcome'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const notifications = new client.Counter({
    name: 'fenpay_channel_notifications_total',
    help: 'Channel notifications by channel and outcome (stored, duplicate, refused: did not verify)',
    labelNames: ['channel', 'outcome'],
    registers: [registry],
  });
  const inRotation = new client.Gauge({
    name: 'fenpay_channel_in_rotation',
    help: 'Whether a channel target (a channel account, or builtin:<channel>) takes new payments (1) or is out of rotation (0)',
    labelNames: ['target'],
    registers: [registry],
  });
  return {
    registry,
    observeRequest(labels, seconds) {
      const l = { method: labels.method, route: labels.route, status: String(labels.status) };
      requests.inc(l);
      latency.observe(l, seconds);
    },
    observeBatch(size, ms) {
      batchSize.observe(size);
      batchLatency.observe(ms / 1000);
    },
    paymentOutcome(labels) {
      payments.inc(labels);
    },
    ledgerTransfers(count) {
      transfers.inc(count);
    },
    integrityMismatch(channel) {
      mismatches.inc({ channel });
    },
    channelHealth(labels) {
      inRotation.set({ target: labels.target }, labels.inRotation ? 1 : 0);
    },
    notificationReceived(labels) {
      notifications.inc(labels);
    },
    webhookAttempt(labels, durationMs) {
      webhookAttempts.observe(labels, durationMs / 1000);
    },
  };
}
