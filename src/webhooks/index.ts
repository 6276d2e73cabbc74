/**
 * Webhooks: merchant endpoints, their signing secrets, deliveries and attempts, the Stripe signature,
 * where a webhook may be sent and how one is sent. Dispatch and delivery (work across rooms and the
 * job queue) live in flows.
 */
export { signatureHeader, newWebhookSecret } from './signature.ts';
export { checkWebhookUrl, isPublicAddress, publicOnlyLookup, type TargetPolicy, type TargetVerdict } from './target.ts';
export { postWebhook, type WebhookPost, type WebhookPostResult } from './sender.ts';
export {
  serializeWebhookEndpoint,
  getWebhookEndpoint,
  findWebhookEndpointMode,
  listWebhookEndpoints,
  liveSecrets,
  subscribes,
  type WebhookEndpointRow,
  type WebhookSecretRow,
} from './endpoints.ts';
export { serializeWebhookDelivery, getWebhookDelivery, listWebhookDeliveries, type WebhookDeliveryRow, type WebhookAttemptRow } from './deliveries.ts';
