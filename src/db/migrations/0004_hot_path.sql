-- The hot payment path, measured (issue 2 benchmark):
-- 1. Every insert into a tenant table took a FOR KEY SHARE lock on its merchant row to check the
--    foreign key. With all traffic on one merchant, concurrent group commits share that one row's lock
--    through MultiXacts — the hot-row problem ARCHITECTURE.md §3 warns about, moved from balances to
--    merchants. Merchants are never deleted and every tenant row is written by code that has just
--    authenticated the merchant, so the high-volume tables drop the merchant foreign key; the ledger
--    auditor and the isolation tests check tenancy instead. Keys inside a tenant (attempt → intent,
--    refund → attempt, transfer → account) stay.
ALTER TABLE payment_intents  DROP CONSTRAINT payment_intents_merchant_id_fkey;
ALTER TABLE payment_attempts DROP CONSTRAINT payment_attempts_merchant_id_fkey;
ALTER TABLE payment_methods  DROP CONSTRAINT payment_methods_merchant_id_fkey;
ALTER TABLE vault_cards      DROP CONSTRAINT vault_cards_merchant_id_fkey;
ALTER TABLE refunds          DROP CONSTRAINT refunds_merchant_id_fkey;
ALTER TABLE events           DROP CONSTRAINT events_merchant_id_fkey;

-- 2. A stored idempotent response is replayed byte for byte and never queried into: keep it as text,
--    which PostgreSQL stores without parsing ~2 kB of JSON per request.
ALTER TABLE idempotency_keys ALTER COLUMN response_body TYPE text USING response_body::text;

-- 3. ARCHITECTURE.md §5: every tenant-owned row carries merchant_id (sharding by merchant). Balance
--    buckets belong to an account that belongs to a merchant (NULL for platform accounts).
ALTER TABLE ledger_account_buckets ADD COLUMN merchant_id text;
UPDATE ledger_account_buckets b SET merchant_id = a.merchant_id FROM ledger_accounts a WHERE a.id = b.account_id;
