-- Hosted checkout (issue 6): Checkout Sessions with their line items, coupons, promotion codes and
-- redemptions.
--
-- Coupons carry a merchant-chosen public id (Stripe lets `id` be given), so the primary key is an
-- internal id and the public one is unique per merchant and mode among live coupons.
CREATE TABLE coupons (
  id               text PRIMARY KEY,
  public_id        text NOT NULL,
  merchant_id      text NOT NULL REFERENCES merchants(id),
  livemode         boolean NOT NULL,
  name             text,
  -- Hundredths of a percent (2500 = 25 %): Stripe accepts two decimals, integers keep floats out of money.
  percent_off_bps  integer CHECK (percent_off_bps BETWEEN 1 AND 10000),
  amount_off       bigint CHECK (amount_off > 0),
  currency         text,
  duration         text NOT NULL CHECK (duration IN ('once', 'repeating', 'forever')),
  duration_in_months integer,
  max_redemptions  integer CHECK (max_redemptions > 0),
  times_redeemed   integer NOT NULL DEFAULT 0,
  redeem_by        timestamptz,
  metadata         jsonb NOT NULL DEFAULT '{}',
  deleted          boolean NOT NULL DEFAULT false,
  version          integer NOT NULL,
  created_at       timestamptz NOT NULL,
  CHECK ((percent_off_bps IS NULL) <> (amount_off IS NULL)),
  CHECK ((amount_off IS NULL) = (currency IS NULL))
);
CREATE UNIQUE INDEX coupons_public_id ON coupons (merchant_id, livemode, public_id) WHERE NOT deleted;
CREATE INDEX coupons_list ON coupons (merchant_id, livemode, created_at DESC, id DESC) WHERE NOT deleted;

CREATE TABLE promotion_codes (
  id               text PRIMARY KEY,
  merchant_id      text NOT NULL REFERENCES merchants(id),
  livemode         boolean NOT NULL,
  coupon_id        text NOT NULL REFERENCES coupons(id),
  code             text NOT NULL,
  active           boolean NOT NULL,
  expires_at       timestamptz,
  max_redemptions  integer CHECK (max_redemptions > 0),
  times_redeemed   integer NOT NULL DEFAULT 0,
  first_time_transaction boolean NOT NULL DEFAULT false,
  minimum_amount   bigint,
  minimum_amount_currency text,
  metadata         jsonb NOT NULL DEFAULT '{}',
  version          integer NOT NULL,
  created_at       timestamptz NOT NULL
);
-- Payers type codes in any case; an active code names one promotion code per merchant and mode.
CREATE UNIQUE INDEX promotion_codes_active_code ON promotion_codes (merchant_id, livemode, lower(code)) WHERE active;
CREATE INDEX promotion_codes_lookup ON promotion_codes (merchant_id, livemode, lower(code));
CREATE INDEX promotion_codes_list ON promotion_codes (merchant_id, livemode, created_at DESC, id DESC);

CREATE TABLE checkout_sessions (
  id                    text PRIMARY KEY,
  merchant_id           text NOT NULL REFERENCES merchants(id),
  livemode              boolean NOT NULL,
  mode                  text NOT NULL CHECK (mode IN ('payment')),
  status                text NOT NULL CHECK (status IN ('open', 'complete', 'expired')),
  payment_status        text NOT NULL CHECK (payment_status IN ('unpaid', 'paid', 'no_payment_required')),
  currency              text NOT NULL,
  amount_subtotal       bigint NOT NULL CHECK (amount_subtotal > 0),
  amount_discount       bigint NOT NULL DEFAULT 0 CHECK (amount_discount >= 0),
  amount_total          bigint NOT NULL CHECK (amount_total >= 0),
  coupon_id             text REFERENCES coupons(id),
  promotion_code_id     text REFERENCES promotion_codes(id),
  allow_promotion_codes boolean NOT NULL,
  payment_method_types  text[] NOT NULL,
  success_url           text NOT NULL,
  cancel_url            text,
  customer_id           text,
  customer_email        text,
  -- What the payer typed on the page (Stripe's customer_details.email).
  payer_email           text,
  locale                text,
  client_reference_id   text,
  metadata              jsonb NOT NULL DEFAULT '{}',
  payment_intent_data   jsonb NOT NULL DEFAULT '{}',
  payment_intent_id     text REFERENCES payment_intents(id),
  -- The page's bearer secret for its own calls (never a cookie, so no CSRF surface).
  page_secret           text NOT NULL,
  expires_at            timestamptz NOT NULL,
  completed_at          timestamptz,
  expired_at            timestamptz,
  version               integer NOT NULL,
  created_at            timestamptz NOT NULL,
  CHECK (amount_total = amount_subtotal - amount_discount)
);
CREATE INDEX checkout_sessions_list ON checkout_sessions (merchant_id, livemode, created_at DESC, id DESC);
CREATE INDEX checkout_sessions_intent ON checkout_sessions (payment_intent_id) WHERE payment_intent_id IS NOT NULL;
-- The sweeper's two questions: which open sessions ran out, which open ones have a payment under way.
CREATE INDEX checkout_sessions_open_expiry ON checkout_sessions (expires_at) WHERE status = 'open';
CREATE INDEX checkout_sessions_open_paying ON checkout_sessions (created_at) WHERE status = 'open' AND payment_intent_id IS NOT NULL;

CREATE TABLE checkout_line_items (
  id               text PRIMARY KEY,
  session_id       text NOT NULL REFERENCES checkout_sessions(id),
  merchant_id      text NOT NULL,
  position         integer NOT NULL,
  name             text NOT NULL,
  description      text,
  price_id         text NOT NULL,
  product_id       text NOT NULL,
  unit_amount      bigint NOT NULL CHECK (unit_amount >= 0),
  quantity         integer NOT NULL CHECK (quantity > 0),
  currency         text NOT NULL,
  UNIQUE (session_id, position)
);

-- One row per use of a coupon by a session. `reserved` from the moment the payer pays with the
-- discounted amount until the session completes (`redeemed`) or expires (`released`). Counting
-- reserved + redeemed rows under the code's and coupon's version guards keeps max_redemptions exact
-- under concurrency; the partial unique index keeps a first-time-only discount to one per payer.
CREATE TABLE coupon_redemptions (
  id                text PRIMARY KEY,
  merchant_id       text NOT NULL,
  livemode          boolean NOT NULL,
  coupon_id         text NOT NULL REFERENCES coupons(id),
  promotion_code_id text REFERENCES promotion_codes(id),
  session_id        text NOT NULL REFERENCES checkout_sessions(id),
  payer_email       text,
  first_time_only   boolean NOT NULL,
  status            text NOT NULL CHECK (status IN ('reserved', 'redeemed', 'released')),
  created_at        timestamptz NOT NULL
);
CREATE UNIQUE INDEX coupon_redemptions_session ON coupon_redemptions (session_id) WHERE status <> 'released';
CREATE UNIQUE INDEX coupon_redemptions_first_time ON coupon_redemptions (merchant_id, livemode, lower(payer_email))
  WHERE first_time_only AND status <> 'released';
CREATE INDEX coupon_redemptions_coupon ON coupon_redemptions (coupon_id) WHERE status <> 'released';
CREATE INDEX coupon_redemptions_promotion_code ON coupon_redemptions (promotion_code_id) WHERE status <> 'released';
