-- Indexes no query reads, each maintained on every payment (issue 2 benchmark: index insertion is
-- the largest part of PostgreSQL's executor time on the payment path, about 40 entries per payment).
-- * events (object_id): no API route filters events by object; the outbox reads by (xid, id) and
--   listings by (merchant_id, livemode, created_at, id). Three entries per card payment.
-- * ledger_transfers (debit_account_id) and (credit_account_id): balance transactions are read by
--   merchant (ledger_transfers_merchant) and by journal; balances come from the account buckets; the
--   auditor reads every transfer. The foreign keys to ledger_accounts stay: they are checked against
--   the accounts' primary key, and accounts are never deleted (the only case these indexes would
--   serve). Four entries per card payment.
DROP INDEX events_object;
DROP INDEX ledger_transfers_debit;
DROP INDEX ledger_transfers_credit;
