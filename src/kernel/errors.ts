/**
 * The one catalogue of named failures. The catalogue alone sets the HTTP status and the Stripe
 * error `type`; a test holds it against docs/errors.md so the documentation cannot drift.
 */
export type ErrorType =
  | 'invalid_request_error'
  | 'card_error'
  | 'idempotency_error'
  | 'api_error'
  | 'authentication_error'
  | 'rate_limit_error';

interface CatalogueEntry {
  readonly status: number;
  readonly type: ErrorType;
  readonly description: string;
}

export const errorCatalogue = {
  // Authentication and authorization
  api_key_missing: { status: 401, type: 'invalid_request_error', description: 'No API key was provided.' },
  api_key_invalid: { status: 401, type: 'invalid_request_error', description: 'The API key is unknown, revoked or malformed.' },
  secret_key_required: { status: 401, type: 'invalid_request_error', description: 'This endpoint needs a secret key; a publishable key was used.' },
  livemode_mismatch: { status: 400, type: 'invalid_request_error', description: 'A test-mode key was used on a live-mode object, or the reverse.' },
  card_data_not_allowed: { status: 403, type: 'invalid_request_error', description: 'Raw card numbers are accepted in live mode only for merchants that handle card data themselves.' },
  // Request shape
  parameter_missing: { status: 400, type: 'invalid_request_error', description: 'A required parameter is missing.' },
  parameter_invalid_integer: { status: 400, type: 'invalid_request_error', description: 'A parameter must be an integer.' },
  parameter_invalid_empty: { status: 400, type: 'invalid_request_error', description: 'A parameter must not be empty.' },
  parameter_invalid: { status: 400, type: 'invalid_request_error', description: 'A parameter has an invalid value or type.' },
  parameter_unknown: { status: 400, type: 'invalid_request_error', description: 'The request contains a parameter this endpoint does not accept.' },
  body_too_large: { status: 413, type: 'invalid_request_error', description: 'The request body is larger than the limit.' },
  body_malformed: { status: 400, type: 'invalid_request_error', description: 'The request body could not be parsed.' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error', description: 'The request body content type is not form-encoded or JSON.' },
  currency_unsupported: { status: 400, type: 'invalid_request_error', description: 'The currency is not a supported ISO 4217 code.' },
  amount_must_be_positive: { status: 400, type: 'invalid_request_error', description: 'The amount must be a positive integer in minor units.' },
  amount_too_large: { status: 400, type: 'invalid_request_error', description: 'The amount exceeds the largest amount accepted.' },
  metadata_invalid: { status: 400, type: 'invalid_request_error', description: 'Metadata has too many keys, or a key or value is too long.' },
  url_invalid: { status: 404, type: 'invalid_request_error', description: 'No such route.' },
  method_not_allowed: { status: 405, type: 'invalid_request_error', description: 'The HTTP method is not allowed on this route.' },
  // Resources
  resource_missing: { status: 404, type: 'invalid_request_error', description: 'No such object for this merchant.' },
  resource_deleted: { status: 400, type: 'invalid_request_error', description: 'The object has been deleted.' },
  // Idempotency
  idempotency_key_in_use: { status: 409, type: 'idempotency_error', description: 'Another request with the same Idempotency-Key is still being processed.' },
  idempotency_key_reused: { status: 400, type: 'idempotency_error', description: 'The Idempotency-Key was used with a different endpoint or different parameters.' },
  idempotency_key_too_long: { status: 400, type: 'invalid_request_error', description: 'An Idempotency-Key must be 255 characters or fewer.' },
  // Payment state
  payment_intent_unexpected_state: { status: 400, type: 'invalid_request_error', description: 'The PaymentIntent is not in a state that allows this operation.' },
  payment_method_required: { status: 400, type: 'invalid_request_error', description: 'The PaymentIntent needs a payment method before it can be confirmed.' },
  payment_method_unexpected_state: { status: 400, type: 'invalid_request_error', description: 'The PaymentMethod cannot be used this way (detached, or attached to another customer).' },
  payment_method_type_unsupported: { status: 400, type: 'invalid_request_error', description: 'The payment method type is not supported by this PaymentIntent or by Fenpay.' },
  amount_to_capture_exceeds_capturable: { status: 400, type: 'invalid_request_error', description: 'amount_to_capture is larger than amount_capturable.' },
  refund_exceeds_captured_amount: { status: 400, type: 'invalid_request_error', description: 'The refund would exceed the captured amount not yet refunded.' },
  charge_already_refunded: { status: 400, type: 'invalid_request_error', description: 'The payment has been fully refunded already.' },
  refund_requires_succeeded_payment: { status: 400, type: 'invalid_request_error', description: 'Only a captured payment can be refunded.' },
  balance_insufficient: { status: 400, type: 'invalid_request_error', description: 'The merchant balance is too low to fund this refund.' },
  webhook_url_not_allowed: { status: 400, type: 'invalid_request_error', description: 'The webhook URL is not allowed: live mode needs https and a public address.' },
  webhook_endpoint_disabled: { status: 400, type: 'invalid_request_error', description: 'The webhook endpoint is disabled; enable it before redelivering.' },
  operation_not_supported: { status: 400, type: 'invalid_request_error', description: 'The channel does not support this operation.' },
  concurrent_update: { status: 409, type: 'invalid_request_error', description: 'The object was changed by another request at the same time; retry.' },
  // Checkout, coupons and promotion codes
  resource_already_exists: { status: 400, type: 'invalid_request_error', description: 'An object with this id or code already exists.' },
  checkout_session_expired: { status: 400, type: 'invalid_request_error', description: 'The Checkout Session has expired; the payer needs a new one.' },
  checkout_session_completed: { status: 400, type: 'invalid_request_error', description: 'The Checkout Session is already complete.' },
  checkout_session_payment_in_progress: { status: 409, type: 'invalid_request_error', description: 'A payment for this Checkout Session is already being processed.' },
  checkout_page_secret_invalid: { status: 403, type: 'invalid_request_error', description: 'The checkout page request does not carry this session\'s page secret.' },
  promotion_codes_not_allowed: { status: 400, type: 'invalid_request_error', description: 'The Checkout Session does not accept promotion codes.' },
  promotion_code_invalid: { status: 400, type: 'invalid_request_error', description: 'The promotion code does not exist, is inactive, or does not apply to this order.' },
  promotion_code_expired: { status: 400, type: 'invalid_request_error', description: 'The promotion code or its coupon has expired.' },
  promotion_code_redemption_limit_reached: { status: 400, type: 'invalid_request_error', description: 'The promotion code or its coupon has reached its maximum number of redemptions.' },
  promotion_code_first_time_only: { status: 400, type: 'invalid_request_error', description: 'The promotion code is for first-time customers only.' },
  promotion_code_minimum_not_met: { status: 400, type: 'invalid_request_error', description: 'The order is below the promotion code\'s minimum amount.' },
  // Card outcomes (402, as Stripe)
  card_declined: { status: 402, type: 'card_error', description: 'The card was declined.' },
  expired_card: { status: 402, type: 'card_error', description: 'The card has expired.' },
  incorrect_cvc: { status: 402, type: 'card_error', description: 'The card security code is incorrect.' },
  incorrect_number: { status: 402, type: 'card_error', description: 'The card number is incorrect.' },
  invalid_expiry_month: { status: 402, type: 'card_error', description: 'The card expiry month is invalid.' },
  invalid_expiry_year: { status: 402, type: 'card_error', description: 'The card expiry year is invalid.' },
  processing_error: { status: 402, type: 'card_error', description: 'An error occurred while processing the card.' },
  payment_intent_authentication_failure: { status: 402, type: 'card_error', description: 'The payer failed 3-D Secure authentication.' },
  // Platform
  no_channel_available: { status: 503, type: 'api_error', description: 'Every channel that could serve this payment is out of rotation or excluded by its rules; nothing was charged.' },
  checkout_too_many_attempts: { status: 429, type: 'rate_limit_error', description: 'This checkout has had too many failed payment attempts and takes no more; the merchant can start a new one.' },
  rate_limited: { status: 429, type: 'rate_limit_error', description: 'Too many requests; slow down.' },
  service_unavailable: { status: 503, type: 'api_error', description: 'Fenpay is shutting down or not ready; retry.' },
  api_error: { status: 500, type: 'api_error', description: 'An unexpected error on Fenpay\'s side.' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof errorCatalogue;

export interface AppErrorOptions {
  message?: string;
  param?: string;
  declineCode?: string;
  /** Extra fields merged into the public error object (e.g. `payment_intent` on card errors). */
  extra?: Record<string, unknown>;
}

/** An expected, named failure of a request. Its code picks status and type from the catalogue. */
export class AppError extends Error {
  override name = 'AppError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: ErrorType;
  readonly param: string | undefined;
  readonly declineCode: string | undefined;
  readonly extra: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, options: AppErrorOptions = {}) {
    const entry: CatalogueEntry = errorCatalogue[code];
    super(options.message ?? entry.description);
    this.code = code;
    this.status = entry.status;
    this.type = entry.type;
    this.param = options.param;
    this.declineCode = options.declineCode;
    this.extra = options.extra;
  }

  toPublic(requestId: string | undefined): Record<string, unknown> {
    const error: Record<string, unknown> = { type: this.type, code: this.code, message: this.message };
    if (this.param !== undefined) error.param = this.param;
    if (this.declineCode !== undefined) error.decline_code = this.declineCode;
    if (requestId !== undefined) error.request_log_url = null;
    if (requestId !== undefined) error.request_id = requestId;
    if (this.extra) Object.assign(error, this.extra);
    return { error };
  }
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(errorCatalogue, value);
}
