-- Channel accounts (issues 4 and 5): a merchant's own credentials at a provider (an Alipay app, a
-- WeChat Pay merchant number, a UnionPay merId, a Stripe-compatible acquirer key), sealed by the vault.
-- Live-mode payments of a wallet or card type go through the merchant's active account for it; test mode
-- uses the built-in emulators unless the merchant adds test-mode accounts of its own.
CREATE TABLE channel_accounts (
  id                   text PRIMARY KEY,
  merchant_id          text NOT NULL REFERENCES merchants(id),
  livemode             boolean NOT NULL,
  channel              text NOT NULL,
  description          text,
  status               text NOT NULL CHECK (status IN ('active', 'disabled')),
  -- The whole credential set, vault-sealed (AES-256-GCM, bound to this account and merchant).
  credentials_sealed   text NOT NULL,
  -- The non-secret part, shown back to the merchant (app id, merchant number, key ids, endpoints).
  credentials_public   jsonb NOT NULL,
  metadata             jsonb NOT NULL DEFAULT '{}',
  version              integer NOT NULL,
  created_at           timestamptz NOT NULL,
  updated_at           timestamptz NOT NULL
);
CREATE INDEX channel_accounts_list ON channel_accounts (merchant_id, livemode, created_at DESC, id DESC);

-- Which account an attempt went through: later queries, captures, refunds and notifications use the same
-- credentials. NULL: a built-in channel (the sandbox emulators).
ALTER TABLE payment_attempts ADD COLUMN channel_account_id text;
