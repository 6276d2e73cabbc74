-- Foreign keys on the payment path, checked once per statement instead of once per row (issue 2
-- benchmark). A foreign key runs one query per inserted row through the executor (measured: ≈ 37,000
-- instructions each, five per card payment — two accounts per ledger transfer and the attempt's
-- intent — ≈ 13 % of PostgreSQL's work per payment) and takes a KEY SHARE lock on the hot platform
-- accounts, which concurrent batches then share as MultiXacts. The same rule holds with:
--   * a statement-level AFTER INSERT trigger that looks every inserted row's references up in one
--     query and raises foreign_key_violation (23503) naming the first row without them, and
--   * the referenced rows made permanent: ledger accounts and payment intents are never deleted or
--     re-keyed (refused by triggers), so a reference that existed at insert exists forever and no
--     lock is needed to keep it.
-- A reference is a correlated lookup by primary key, one index probe per row whatever plan settings
-- a session has (an anti-join could be planned as a hash join over the whole referenced table).

ALTER TABLE ledger_transfers DROP CONSTRAINT ledger_transfers_debit_account_id_fkey;
ALTER TABLE ledger_transfers DROP CONSTRAINT ledger_transfers_credit_account_id_fkey;
ALTER TABLE ledger_transfers DROP CONSTRAINT ledger_transfers_pending_id_fkey;
ALTER TABLE payment_attempts DROP CONSTRAINT payment_attempts_payment_intent_id_fkey;

CREATE FUNCTION ledger_transfers_check_references() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing text;
BEGIN
  SELECT n.id INTO missing FROM new_transfers n
   WHERE (SELECT count(*) FROM ledger_accounts a WHERE a.id = n.debit_account_id) = 0
      OR (SELECT count(*) FROM ledger_accounts a WHERE a.id = n.credit_account_id) = 0
      OR (n.pending_id IS NOT NULL AND (SELECT count(*) FROM ledger_transfers p WHERE p.id = n.pending_id) = 0)
   LIMIT 1;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'ledger transfer % refers to an account or pending transfer that does not exist', missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER ledger_transfers_references AFTER INSERT ON ledger_transfers
  REFERENCING NEW TABLE AS new_transfers FOR EACH STATEMENT EXECUTE FUNCTION ledger_transfers_check_references();

CREATE FUNCTION payment_attempts_check_references() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing text;
BEGIN
  SELECT n.id INTO missing FROM new_attempts n
   WHERE (SELECT count(*) FROM payment_intents p WHERE p.id = n.payment_intent_id) = 0
   LIMIT 1;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'payment attempt % refers to a payment intent that does not exist', missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER payment_attempts_references AFTER INSERT ON payment_attempts
  REFERENCING NEW TABLE AS new_attempts FOR EACH STATEMENT EXECUTE FUNCTION payment_attempts_check_references();
-- An attempt's intent never changes.
CREATE FUNCTION payment_attempts_keep_intent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'payment_attempts.payment_intent_id cannot change' USING ERRCODE = 'foreign_key_violation';
END $$;
CREATE TRIGGER payment_attempts_keep_intent BEFORE UPDATE OF payment_intent_id ON payment_attempts
  FOR EACH ROW WHEN (OLD.payment_intent_id IS DISTINCT FROM NEW.payment_intent_id) EXECUTE FUNCTION payment_attempts_keep_intent();

-- Referenced rows are permanent.
CREATE FUNCTION refuse_removal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% rows are permanent (% refused)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER ledger_accounts_permanent BEFORE DELETE ON ledger_accounts FOR EACH ROW EXECUTE FUNCTION refuse_removal();
CREATE TRIGGER ledger_accounts_permanent_key BEFORE UPDATE OF id ON ledger_accounts
  FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION refuse_removal();
CREATE TRIGGER ledger_accounts_no_truncate BEFORE TRUNCATE ON ledger_accounts FOR EACH STATEMENT EXECUTE FUNCTION refuse_removal();
CREATE TRIGGER payment_intents_permanent BEFORE DELETE ON payment_intents FOR EACH ROW EXECUTE FUNCTION refuse_removal();
CREATE TRIGGER payment_intents_permanent_key BEFORE UPDATE OF id ON payment_intents
  FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION refuse_removal();
CREATE TRIGGER payment_intents_no_truncate BEFORE TRUNCATE ON payment_intents FOR EACH STATEMENT EXECUTE FUNCTION refuse_removal();
