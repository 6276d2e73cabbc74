-- Routing, health and fees across channel accounts (issue 5).

-- How an account competes for a payment: lower priority first, weight among equals, rules that make it
-- eligible (currencies, amount range, card brands), and its fee schedule
-- ([{payment_method_type?, currency?, percent_bps, fixed_amount}], the most specific entry wins).
ALTER TABLE channel_accounts
  ADD COLUMN priority integer NOT NULL DEFAULT 100,
  ADD COLUMN weight integer NOT NULL DEFAULT 1,
  ADD COLUMN rules jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN fees jsonb NOT NULL DEFAULT '[]';

-- The routing decision and the fee rate an attempt was made under (booked at capture as its own transfer).
ALTER TABLE payment_attempts
  ADD COLUMN routing jsonb,
  ADD COLUMN fee_bps integer,
  ADD COLUMN fee_fixed bigint;

-- Health per channel target (a channel account id, or builtin:<channel>): active probes and passive
-- signals (timeouts, 5xx, unverifiable answers) from real traffic. A target with no healthy answer for
-- the configured window leaves rotation; consecutive healthy probes bring it back.
CREATE TABLE channel_health (
  target                 text PRIMARY KEY,
  in_rotation            boolean NOT NULL DEFAULT true,
  last_success_at        timestamptz,
  last_failure_at        timestamptz,
  last_error             text,
  -- The first failure since the last healthy answer; NULL while healthy.
  failing_since          timestamptz,
  consecutive_successes  integer NOT NULL DEFAULT 0,
  consecutive_failures   integer NOT NULL DEFAULT 0,
  changed_at             timestamptz NOT NULL DEFAULT now()
);
