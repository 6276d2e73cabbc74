/** Row types of the tables, as Kysely sees them. Money columns are bigint (parsed into BigInt). */
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T = unknown> = ColumnType<T, string | T, string | T>;
type Defaulted<T> = ColumnType<T, T | undefined, T>;

export interface MerchantsTable {
  id: string;
  name: string;
  email: string | null;
  country: Defaulted<string>;
  default_currency: Defaulted<string>;
  handles_card_data: Defaulted<boolean>;
  live_enabled: Defaulted<boolean>;
  settings: Json<Record<string, unknown>>;
  created_at: Timestamp;
}

export interface ApiKeysTable {
  id: string;
  merchant_id: string;
  kind: 'secret' | 'publishable';
  livemode: boolean;
  key_hash: Buffer;
  key_last4: string;
  created_at: Timestamp;
  revoked_at: Date | null;
}

export interface CustomersTable {
  id: string;
  merchant_id: string;
  livemode: boolean;
  email: string | null;
  name: string | null;
  phone: string | null;
  description: string | null;
  address: Json<Record<string, string | null> | null>;
  metadata: Json<Record<string, string>>;
  invoice_default_payment_method: string | null;
  deleted: Defaulted<boolean>;
  version: Defaulted<number>;
  created_at: Timestamp;
}

export interface VaultCardsTable {
  token: string;
  merchant_id: string;
  key_id: string;
  iv: Buffer;
  ciphertext: Buffer;
  auth_tag: Buffer;
  /** Envelope encryption (0002_vault_envelope.sql): the per-card data key, wrapped by key `key_id`. */
  data_key_wrapped: Buffer;
  data_key_iv: Buffer;
  data_key_auth_tag: Buffer;
  created_at: Timestamp;
}

export interface PaymentMethodsTable {
  id: string;
  merchant_id: string;
  livemode: boolean;
  type: string;
  customer_id: string | null;
  card_brand: string | null;
  card_last4: string | null;
  card_exp_month: number | null;
  card_exp_year: number | null;
  card_funding: string | null;
  card_country: string | null;
  card_fingerprint: string | null;
  vault_token: string | null;
  billing_details: Json<Record<string, unknown>>;
  metadata: Json<Record<string, string>>;
  version: Defaulted<number>;
  created_at: Timestamp;
}

export interface PaymentIntentsTable {
  id: string;
  merchant_id: string;
  livemode: boolean;
  amount: bigint;
  currency: string;
  status: string;
  capture_method: string;
  confirmation_method: string;
  payment_method_types: string[];
  customer_id: string | null;
  payment_method_id: string | null;
  description: string | null;
  receipt_email: string | null;
  statement_descriptor: string | null;
  return_url: string | null;
  metadata: Json<Record<string, string>>;
  amount_capturable: Defaulted<bigint>;
  amount_received: Defaulted<bigint>;
  amount_refunded: Defaulted<bigint>;
  latest_attempt_id: string | null;
  next_action: Json<Record<string, unknown> | null>;
  payment_method_options: Json<Record<string, Record<string, string>>>;
  last_payment_error: Json<Record<string, unknown> | null>;
  cancellation_reason: string | null;
  canceled_at: Date | null;
  client_secret: string;
  expires_at: Timestamp;
  capture_before: Date | null;
  version: Defaulted<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PaymentAttemptsTable {
  id: string;
  merchant_id: string;
  livemode: boolean;
  payment_intent_id: string;
  payment_method_id: string;
  channel: string;
  channel_account_id: string | null;
  routing: Json<Record<string, unknown> | null>;
  fee_bps: number | null;
  fee_fixed: bigint | null;
  channel_order_no: string;
  channel_reference: string | null;
  amount: bigint;
  currency: string;
  capture_method: string;
  status: string;
  amount_captured: Defaulted<bigint>;
  amount_refunded: Defaulted<bigint>;
  failure_code: string | null;
  decline_code: string | null;
  failure_message: string | null;
  auth_transfer_id: string | null;
  sync_count: Defaulted<number>;
  next_sync_at: Date | null;
  version: Defaulted<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RefundsTable {
  id: string;
  merchant_id: string;
  livemode: boolean;
  payment_intent_id: string;
  attempt_id: string;
  amount: bigint;
  currency: string;
  status: string;
  reason: string | null;
  failure_reason: string | null;
  metadata: Json<Record<string, string>>;
  journal_id: string | null;
  version: Defaulted<number>;
  created_at: Timestamp;
}

export interface EventsTable {
  id: string;
  merchant_id: string;
  livemode: boolean;
  type: string;
  object_id: string;
  data: Json<Record<string, unknown>>;
  request_id: string | null;
  idempotency_key: string | null;
  created_at: Timestamp;
  /** The writing transaction's id (xid8, read as text): the outbox reads in commit order by it. */
  xid: Defaulted<string>;
}

export interface EventCursorsTable {
  name: string;
  xid: string;
  event_id: string;
  updated_at: Timestamp;
}

export interface WebhookEndpointsTable {
  id: string;
  merchant_id: string;
  livemode: boolean;
  url: string;
  description: string | null;
  enabled_events: string[];
  metadata: Json<Record<string, string>>;
  api_version: string;
  status: 'enabled' | 'disabled';
  disabled_reason: string | null;
  failing_since: Date | null;
  deleted: boolean;
  version: number;
  created_at: Timestamp;
}

export interface WebhookEndpointSecretsTable {
  id: string;
  endpoint_id: string;
  merchant_id: string;
  sealed: string;
  created_at: Timestamp;
  expires_at: Date | null;
}

export interface WebhookDeliveriesTable {
  id: string;
  merchant_id: string;
  livemode: boolean;
  event_id: string;
  endpoint_id: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempt_count: Defaulted<number>;
  next_attempt_at: Date | null;
  leased_until: Date | null;
  last_http_status: number | null;
  last_error: string | null;
  created_at: Timestamp;
  finished_at: Date | null;
}

export interface WebhookDeliveryAttemptsTable {
  id: string;
  delivery_id: string;
  merchant_id: string;
  attempt_no: number;
  manual: boolean;
  started_at: Timestamp;
  duration_ms: number;
  http_status: number | null;
  error: string | null;
  response_snippet: string | null;
}

export interface ChannelAccountsTable {
  id: string;
  merchant_id: string;
  livemode: boolean;
  channel: string;
  description: string | null;
  status: 'active' | 'disabled';
  credentials_sealed: string;
  credentials_public: Json<Record<string, string>>;
  metadata: Json<Record<string, string>>;
  priority: Defaulted<number>;
  weight: Defaulted<number>;
  rules: Json<RoutingRules>;
  fees: Json<FeeRule[]>;
  version: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** When a channel account may serve a payment (every given condition must hold). */
export interface RoutingRules {
  currencies?: string[];
  min_amount?: number;
  max_amount?: number;
  card_brands?: string[];
}

/** A fee rate; an entry without payment_method_type or currency applies to all of them. */
export interface FeeRule {
  payment_method_type?: string;
  currency?: string;
  percent_bps: number;
  fixed_amount: number;
}

export interface ChannelHealthTable {
  target: string;
  in_rotation: Defaulted<boolean>;
  last_success_at: Date | null;
  last_failure_at: Date | null;
  last_error: string | null;
  failing_since: Date | null;
  consecutive_successes: Defaulted<number>;
  consecutive_failures: Defaulted<number>;
  changed_at: Timestamp;
}

export interface ChannelNotificationsTable {
  id: string;
  channel: string;
  notification_id: string;
  kind: 'payment' | 'refund';
  order_no: string;
  refund_no: string | null;
  outcome: Json<Record<string, unknown>>;
  raw_body: string;
  headers: Json<Record<string, string>>;
  received_count: Defaulted<number>;
  status: 'received' | 'processed' | 'ignored';
  result: string | null;
  received_at: Timestamp;
  processed_at: Date | null;
}

export interface IdempotencyKeysTable {
  merchant_id: string;
  livemode: boolean;
  key: string;
  request_method: string;
  request_path: string;
  request_hash: string;
  locked_at: Date | null;
  resource_id: string | null;
  response_status: number | null;
  /** The stored response, as the JSON text that is replayed. */
  response_body: string | null;
  created_at: Timestamp;
}

export interface LedgerAccountsTable {
  id: string;
  merchant_id: string | null;
  livemode: boolean;
  currency: string;
  code: string;
  debits_must_not_exceed_credits: Defaulted<boolean>;
  created_at: Timestamp;
}

export interface LedgerAccountBucketsTable {
  account_id: string;
  merchant_id: string | null;
  bucket: number;
  debits_pending: bigint;
  debits_posted: bigint;
  credits_pending: bigint;
  credits_posted: bigint;
}

export interface LedgerTransfersTable {
  id: string;
  journal_id: string;
  merchant_id: string | null;
  livemode: boolean;
  debit_account_id: string;
  credit_account_id: string;
  amount: bigint;
  currency: string;
  code: string;
  phase: 'single' | 'pending' | 'post' | 'void';
  pending_id: string | null;
  source_id: string | null;
  created_at: Timestamp;
}

// The sandbox card acquirer's own tables are declared in src/sandbox/cards (it is an emulator, not a room).

// Hosted checkout (0008_checkout.sql).
export interface CouponsTable {
  id: string;
  public_id: string;
  merchant_id: string;
  livemode: boolean;
  name: string | null;
  percent_off_bps: number | null;
  amount_off: bigint | null;
  currency: string | null;
  duration: string;
  duration_in_months: number | null;
  max_redemptions: number | null;
  times_redeemed: Defaulted<number>;
  redeem_by: Date | null;
  metadata: Json<Record<string, string>>;
  deleted: Defaulted<boolean>;
  version: number;
  created_at: Timestamp;
}

export interface PromotionCodesTable {
  id: string;
  merchant_id: string;
  livemode: boolean;
  coupon_id: string;
  code: string;
  active: boolean;
  expires_at: Date | null;
  max_redemptions: number | null;
  times_redeemed: Defaulted<number>;
  first_time_transaction: Defaulted<boolean>;
  minimum_amount: bigint | null;
  minimum_amount_currency: string | null;
  metadata: Json<Record<string, string>>;
  version: number;
  created_at: Timestamp;
}

export interface CheckoutSessionsTable {
  id: string;
  merchant_id: string;
  livemode: boolean;
  mode: string;
  status: string;
  payment_status: string;
  currency: string;
  amount_subtotal: bigint;
  amount_discount: Defaulted<bigint>;
  amount_total: bigint;
  coupon_id: string | null;
  promotion_code_id: string | null;
  allow_promotion_codes: boolean;
  payment_method_types: string[];
  success_url: string;
  cancel_url: string | null;
  customer_id: string | null;
  customer_email: string | null;
  payer_email: string | null;
  locale: string | null;
  client_reference_id: string | null;
  metadata: Json<Record<string, string>>;
  payment_intent_data: Json<Record<string, unknown>>;
  payment_intent_id: string | null;
  page_secret: string;
  expires_at: Timestamp;
  completed_at: Date | null;
  expired_at: Date | null;
  version: number;
  created_at: Timestamp;
}

export interface CheckoutLineItemsTable {
  id: string;
  session_id: string;
  merchant_id: string;
  position: number;
  name: string;
  description: string | null;
  price_id: string;
  product_id: string;
  unit_amount: bigint;
  quantity: number;
  currency: string;
}

export interface CouponRedemptionsTable {
  id: string;
  merchant_id: string;
  livemode: boolean;
  coupon_id: string;
  promotion_code_id: string | null;
  session_id: string;
  payer_email: string | null;
  first_time_only: boolean;
  status: string;
  created_at: Timestamp;
}

export interface Database {
  merchants: MerchantsTable;
  api_keys: ApiKeysTable;
  customers: CustomersTable;
  vault_cards: VaultCardsTable;
  payment_methods: PaymentMethodsTable;
  payment_intents: PaymentIntentsTable;
  payment_attempts: PaymentAttemptsTable;
  refunds: RefundsTable;
  events: EventsTable;
  idempotency_keys: IdempotencyKeysTable;
  ledger_accounts: LedgerAccountsTable;
  ledger_account_buckets: LedgerAccountBucketsTable;
  ledger_transfers: LedgerTransfersTable;
  event_cursors: EventCursorsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_endpoint_secrets: WebhookEndpointSecretsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_delivery_attempts: WebhookDeliveryAttemptsTable;
  channel_notifications: ChannelNotificationsTable;
  channel_accounts: ChannelAccountsTable;
  channel_health: ChannelHealthTable;
  coupons: CouponsTable;
  promotion_codes: PromotionCodesTable;
  checkout_sessions: CheckoutSessionsTable;
  checkout_line_items: CheckoutLineItemsTable;
  coupon_redemptions: CouponRedemptionsTable;
}

export type Generatedless = Generated<never>;
