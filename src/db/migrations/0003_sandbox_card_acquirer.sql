-- The sandbox card acquirer (src/sandbox/cards) is an emulator of an external system: these tables
-- are its own memory, not Fenpay's, and nothing outside src/sandbox/cards reads them.
--
-- It keeps a row only for the trades that need memory: 3-D Secure challenges, the "answer never
-- comes" card, and orders that later see a capture, void or refund. An authorization answered at
-- once writes nothing, so the hot path of a test-mode payment has no extra write.
CREATE TABLE sandbox_card_orders (
  order_no          text PRIMARY KEY,
  reference         text NOT NULL UNIQUE,
  status            text NOT NULL CHECK (status IN ('challenge_pending', 'authorized', 'captured', 'declined', 'voided')),
  decline_reason    text,
  -- What approving the challenge leads to (4000008400001629 declines after authentication).
  after_challenge   text CHECK (after_challenge IN ('approve', 'decline')),
  capture_mode      text NOT NULL CHECK (capture_mode IN ('automatic', 'manual')),
  amount            bigint NOT NULL CHECK (amount > 0),
  currency          text NOT NULL,
  amount_captured   bigint NOT NULL DEFAULT 0,
  amount_refunded   bigint NOT NULL DEFAULT 0,
  card_brand        text,
  card_last4        text,
  return_url        text,
  -- The "answer never comes" card: the outcome is decided but reported as pending until then.
  settles_at        timestamptz,
  challenge_completed_at timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CHECK (amount_captured <= amount AND amount_refunded <= amount_captured)
);

-- Captures, voids and refunds, each answered with its own reference; idempotent per request number.
CREATE TABLE sandbox_card_operations (
  reference   text PRIMARY KEY,
  order_no    text NOT NULL REFERENCES sandbox_card_orders(order_no),
  kind        text NOT NULL CHECK (kind IN ('capture', 'void', 'refund')),
  request_no  text NOT NULL,
  amount      bigint NOT NULL CHECK (amount >= 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (order_no, kind, request_no)
);
