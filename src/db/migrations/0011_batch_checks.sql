-- The write batcher's checks as one function: a prepared statement evaluates a condition over the
-- rows it touched (guards still at the version read, idempotency claims won, balances that would go
-- negative) and calls this to abort the whole transaction when it holds. It replaces per-batch DO
-- blocks, which PostgreSQL compiles and plans on every execution; a function call in a prepared
-- statement is compiled once per session. The write batcher recognises its errors by message.
CREATE FUNCTION fenpay_raise_if(condition boolean, message text, detail text DEFAULT '') RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF condition THEN
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = message, DETAIL = detail;
  END IF;
  RETURN false;
END
$$;
