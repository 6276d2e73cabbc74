-- Fenpay payment core. Every tenant-owned row carries merchant_id; ids are application-generated text.
-- Money columns are bigint minor units beside a lowercase ISO 4217 currency.

CREATE TABLE merchants (
  id                  text PRIMARY KEY,
  name                text NOT NULL,
  email               text,
  country             text NOT NULL DEFAULT 'US',
  default_currency    text NOT NULL DEFAULT 'usd',
  handles_card_data   boolean NOT NULL DEFAULT false,
  live_enabled        boolean NOT NULL DEFAULT false,
  settings            jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  id            text PRIMARY KEY,
  merchant_id   text NOT NULL REFERENCES merchants(id),
  kind          text NOT NULL CHECK (kind IN ('secret', 'publishable')),
  livemode      boolean NOT NULL,
  key_hash      bytea NOT NULL UNIQUE,
  key_last4     text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz
);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id);

CREATE TABLE customers (
  id            text PRIMARY KEY,
  merchant_id   text NOT NULL REFERENCES merchants(id),
  livemode      boolean NOT NULL,
  email         text,
  name          text,
  phone         text,
  description   text,
  address       jsonb,
  metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
  invoice_default_payment_method text,
  deleted       boolean NOT NULL DEFAULT false,
  version       integer NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_list ON customers (merchant_id, livemode, created_at DESC, id DESC);

-- Encrypted card numbers. Only the vault module reads or writes this table.
CREATE TABLE vault_cards (
  token         text PRIMARY KEY,
  merchant_id   text NOT NULL REFERENCES merchants(id),
  key_id        text NOT NULL,
  iv            bytea NOT NULL,
  ciphertext    bytea NOT NULL,
  auth_tag      bytea NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE payment_methods (
  id            text PRIMARY KEY,
  merchant_id   text NOT NULL REFERENCES merchants(id),
  livemode      boolean NOT NULL,
  type          text NOT NULL,
  customer_id   text,
  card_brand    text,
  card_last4    text,
  card_exp_month integer,
  card_exp_year  integer,
  card_funding  text,
  card_country  text,
  card_fingerprint text,
  vault_token   text,
  billing_details jsonb NOT NULL DEFAULT '{}'::jsonb,
  metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
  version       integer NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_methods_customer ON payment_methods (merchant_id, customer_id, created_at DESC, id DESC) WHERE customer_id IS NOT NULL;

CREATE TABLE payment_intents (
  id                    text PRIMARY KEY,
  merchant_id           text NOT NULL REFERENCES merchants(id),
  livemode              boolean NOT NULL,
  amount                bigint NOT NULL CHECK (amount > 0),
  currency              text NOT NULL,
  status                text NOT NULL,
  capture_method        text NOT NULL,
  confirmation_method   text NOT NULL,
  payment_method_types  text[] NOT NULL,
  customer_id           text,
  payment_method_id     text,
  description           text,
  receipt_email         text,
  statement_descriptor  text,
  return_url            text,
  metadata              jsonb NOT NULL DEFAULT '{}'::jsonb,
  amount_capturable     bigint NOT NULL DEFAULT 0,
  amount_received       bigint NOT NULL DEFAULT 0,
  amount_refunded       bigint NOT NULL DEFAULT 0,
  latest_attempt_id     text,
  next_action           jsonb,
  last_payment_error    jsonb,
  cancellation_reason   text,
  canceled_at           timestamptz,
  client_secret         text NOT NULL,
  expires_at            timestamptz NOT NULL,
  capture_before        timestamptz,
  version               integer NOT NULL DEFAULT 1,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  CHECK (amount_capturable >= 0 AND amount_received >= 0 AND amount_refunded >= 0 AND amount_refunded <= amount_received)
);
CREATE INDEX payment_intents_list ON payment_intents (merchant_id, livemode, created_at DESC, id DESC);
CREATE INDEX payment_intents_customer ON payment_intents (merchant_id, customer_id) WHERE customer_id IS NOT NULL;
CREATE INDEX payment_intents_open_expiry ON payment_intents (expires_at)
  WHERE status IN ('requires_payment_method', 'requires_confirmation', 'requires_action');
CREATE INDEX payment_intents_capture_expiry ON payment_intents (capture_before) WHERE status = 'requires_capture';

-- One attempt = one call to one channel with its own channel order number (public id ch_…, like a Stripe charge).
CREATE TABLE payment_attempts (
  id                  text PRIMARY KEY,
  merchant_id         text NOT NULL REFERENCES merchants(id),
  livemode            boolean NOT NULL,
  payment_intent_id   text NOT NULL REFERENCES payment_intents(id),
  payment_method_id   text NOT NULL,
  channel             text NOT NULL,
  channel_order_no    text NOT NULL,
  channel_reference   text,
  amount              bigint NOT NULL CHECK (amount > 0),
  currency            text NOT NULL,
  capture_method      text NOT NULL,
  status              text NOT NULL,
  amount_captured     bigint NOT NULL DEFAULT 0,
  amount_refunded     bigint NOT NULL DEFAULT 0,
  failure_code        text,
  decline_code        text,
  failure_message     text,
  auth_transfer_id    text,
  sync_count          integer NOT NULL DEFAULT 0,
  next_sync_at        timestamptz,
  version             integer NOT NULL DEFAULT 1,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (channel, channel_order_no),
  CHECK (amount_refunded <= amount_captured AND amount_captured <= amount)
);
CREATE INDEX payment_attempts_intent ON payment_attempts (payment_intent_id);
CREATE INDEX payment_attempts_unknown ON payment_attempts (next_sync_at) WHERE status IN ('processing', 'requires_action');

CREATE TABLE refunds (
  id                  text PRIMARY KEY,
  merchant_id         text NOT NULL REFERENCES merchants(id),
  livemode            boolean NOT NULL,
  payment_intent_id   text NOT NULL REFERENCES payment_intents(id),
  attempt_id          text NOT NULL REFERENCES payment_attempts(id),
  amount              bigint NOT NULL CHECK (amount > 0),
  currency            text NOT NULL,
  status              text NOT NULL,
  reason              text,
  failure_reason      text,
  metadata            jsonb NOT NULL DEFAULT '{}'::jsonb,
  journal_id          text,
  version             integer NOT NULL DEFAULT 1,
  created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refunds_list ON refunds (merchant_id, livemode, created_at DESC, id DESC);
CREATE INDEX refunds_intent ON refunds (payment_intent_id);

-- Transactional outbox: written in the same database transaction as the change it describes.
CREATE TABLE events (
  id                  text PRIMARY KEY,
  merchant_id         text NOT NULL REFERENCES merchants(id),
  livemode            boolean NOT NULL,
  type                text NOT NULL,
  object_id           text NOT NULL,
  data                jsonb NOT NULL,
  request_id          text,
  idempotency_key     text,
  created_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_list ON events (merchant_id, livemode, created_at DESC, id DESC);
CREATE INDEX events_object ON events (object_id);

CREATE TABLE idempotency_keys (
  merchant_id         text NOT NULL,
  livemode            boolean NOT NULL,
  key                 text NOT NULL,
  request_method      text NOT NULL,
  request_path        text NOT NULL,
  request_hash        text NOT NULL,
  locked_at           timestamptz,
  resource_id         text,
  response_status     integer,
  response_body       jsonb,
  created_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, livemode, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- ─── Ledger ──────────────────────────────────────────────────────────────────────────────
-- TigerBeetle's vocabulary: accounts, transfers (single-phase or pending/post/void), ledger = currency.
CREATE TABLE ledger_accounts (
  id              text PRIMARY KEY,
  merchant_id     text,
  livemode        boolean NOT NULL,
  currency        text NOT NULL,
  code            text NOT NULL,
  -- When true, posted debits may never exceed posted credits (a merchant's available balance).
  debits_must_not_exceed_credits boolean NOT NULL DEFAULT false,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE NULLS NOT DISTINCT (merchant_id, livemode, currency, code)
);

-- Running totals, spread over buckets so a hot account is not one locked row. Derived from transfers
-- in the same database transaction; a balance is the sum of an account's buckets.
CREATE TABLE ledger_account_buckets (
  account_id      text NOT NULL REFERENCES ledger_accounts(id),
  bucket          smallint NOT NULL,
  debits_pending  bigint NOT NULL DEFAULT 0,
  debits_posted   bigint NOT NULL DEFAULT 0,
  credits_pending bigint NOT NULL DEFAULT 0,
  credits_posted  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, bucket)
);

CREATE TABLE ledger_transfers (
  id                text PRIMARY KEY,
  journal_id        text NOT NULL,
  merchant_id       text,
  livemode          boolean NOT NULL,
  debit_account_id  text NOT NULL REFERENCES ledger_accounts(id),
  credit_account_id text NOT NULL REFERENCES ledger_accounts(id),
  amount            bigint NOT NULL CHECK (amount >= 0),
  currency          text NOT NULL,
  code              text NOT NULL,
  phase             text NOT NULL CHECK (phase IN ('single', 'pending', 'post', 'void')),
  pending_id        text REFERENCES ledger_transfers(id),
  source_id         text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  CHECK (debit_account_id <> credit_account_id),
  CHECK ((phase IN ('post', 'void')) = (pending_id IS NOT NULL))
);
-- A pending transfer is posted or voided at most once.
CREATE UNIQUE INDEX ledger_transfers_resolves_once ON ledger_transfers (pending_id) WHERE pending_id IS NOT NULL;
CREATE INDEX ledger_transfers_journal ON ledger_transfers (journal_id);
CREATE INDEX ledger_transfers_merchant ON ledger_transfers (merchant_id, livemode, created_at DESC, journal_id DESC);
CREATE INDEX ledger_transfers_debit ON ledger_transfers (debit_account_id);
CREATE INDEX ledger_transfers_credit ON ledger_transfers (credit_account_id);

-- The ledger only appends: no role, the owner included, may change or remove a transfer.
CREATE FUNCTION ledger_transfers_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger_transfers is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER ledger_transfers_no_update BEFORE UPDATE OR DELETE ON ledger_transfers
  FOR EACH ROW EXECUTE FUNCTION ledger_transfers_append_only();
CREATE TRIGGER ledger_transfers_no_truncate BEFORE TRUNCATE ON ledger_transfers
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_transfers_append_only();
