-- Merchant webhooks (issue 3).
--
-- 1. Reading the outbox in commit order. Events are inserted by many concurrent transactions; an id or
--    a timestamp cursor would skip an event whose transaction commits after a later one was read. Each
--    event records the id of the transaction that wrote it; a reader takes only events whose
--    transaction id is below the oldest transaction still running (pg_snapshot_xmin of its own
--    snapshot), which are all committed or rolled back, and advances a (xid, id) cursor over them.
--    Existing rows get this migration's transaction id; the cursors below start after it.
ALTER TABLE events ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX events_outbox ON events (xid, id);

-- Events are written on the hot path and never queried into: json keeps the text as written (Stripe's
-- field order in webhook bodies, no jsonb parse and re-encode per event).
ALTER TABLE events ALTER COLUMN data TYPE json USING data::json;

CREATE TABLE event_cursors (
  name        text PRIMARY KEY,
  xid         xid8 NOT NULL,
  event_id    text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO event_cursors (name, xid, event_id) VALUES
  ('webhooks', pg_current_xact_id(), ''),
  ('nats', pg_current_xact_id(), '');

-- 2. Endpoints. Secrets are sealed by the vault (AES-256-GCM under a configured key); more than one
--    secret is live during a rotation's overlap window (expires_at in the future).
CREATE TABLE webhook_endpoints (
  id               text PRIMARY KEY,
  merchant_id      text NOT NULL REFERENCES merchants(id),
  livemode         boolean NOT NULL,
  url              text NOT NULL,
  description      text,
  enabled_events   text[] NOT NULL,
  metadata         jsonb NOT NULL DEFAULT '{}',
  api_version      text NOT NULL,
  status           text NOT NULL CHECK (status IN ('enabled', 'disabled')),
  disabled_reason  text,
  failing_since    timestamptz,
  deleted          boolean NOT NULL DEFAULT false,
  version          integer NOT NULL,
  created_at       timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_list ON webhook_endpoints (merchant_id, livemode, created_at DESC, id DESC) WHERE NOT deleted;

CREATE TABLE webhook_endpoint_secrets (
  id           text PRIMARY KEY,
  endpoint_id  text NOT NULL REFERENCES webhook_endpoints(id),
  merchant_id  text NOT NULL,
  sealed       text NOT NULL,
  created_at   timestamptz NOT NULL,
  -- NULL: the current secret. A rolled secret keeps signing until this moment.
  expires_at   timestamptz
);
CREATE INDEX webhook_endpoint_secrets_endpoint ON webhook_endpoint_secrets (endpoint_id);

-- 3. Deliveries: one per (event, endpoint), each attempt recorded. `leased_until` marks an attempt in
--    flight; a worker that dies mid-delivery leaves a lease that simply runs out.
CREATE TABLE webhook_deliveries (
  id               text PRIMARY KEY,
  merchant_id      text NOT NULL,
  livemode         boolean NOT NULL,
  event_id         text NOT NULL REFERENCES events(id),
  endpoint_id      text NOT NULL REFERENCES webhook_endpoints(id),
  status           text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempt_count    integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz,
  leased_until     timestamptz,
  last_http_status integer,
  last_error       text,
  created_at       timestamptz NOT NULL,
  finished_at      timestamptz,
  UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_in_flight ON webhook_deliveries (endpoint_id, leased_until) WHERE status = 'pending' AND leased_until IS NOT NULL;

CREATE TABLE webhook_delivery_attempts (
  id                text PRIMARY KEY,
  delivery_id       text NOT NULL REFERENCES webhook_deliveries(id),
  merchant_id       text NOT NULL,
  attempt_no        integer NOT NULL,
  manual            boolean NOT NULL,
  started_at        timestamptz NOT NULL,
  duration_ms       integer NOT NULL,
  http_status       integer,
  error             text,
  response_snippet  text,
  UNIQUE (delivery_id, attempt_no)
);
