-- Alipay, WeChat Pay and UnionPay (issue 4).

-- Per-method options a PaymentIntent was created or confirmed with (WeChat Pay's `client`, the wallet
-- flow), merged over the defaults when serialized.
ALTER TABLE payment_intents ADD COLUMN payment_method_options jsonb NOT NULL DEFAULT '{}';

-- Asynchronous notifications from channels, stored raw before they are acknowledged. The provider's own
-- id (stable across its retries) is the unique key, so a retried or duplicated notification is stored
-- once and processed once.
CREATE TABLE channel_notifications (
  id               text PRIMARY KEY,
  channel          text NOT NULL,
  notification_id  text NOT NULL,
  kind             text NOT NULL CHECK (kind IN ('payment', 'refund')),
  order_no         text NOT NULL,
  refund_no        text,
  outcome          jsonb NOT NULL,
  raw_body         text NOT NULL,
  headers          jsonb NOT NULL,
  received_count   integer NOT NULL DEFAULT 1,
  status           text NOT NULL CHECK (status IN ('received', 'processed', 'ignored')),
  result           text,
  received_at      timestamptz NOT NULL,
  processed_at     timestamptz,
  UNIQUE (channel, notification_id)
);
CREATE INDEX channel_notifications_order ON channel_notifications (channel, order_no);
CREATE INDEX channel_notifications_unprocessed ON channel_notifications (received_at) WHERE status = 'received';
