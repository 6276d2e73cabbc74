/**
 * What a merchant can connect as a channel account: for each channel, the credential fields it takes
 * (which are secret, which are required, their defaults) and how an adapter is built from them. The
 * flows store and seal credentials; this file only knows each adapter's constructor.
 */
import { Secret } from '../kernel/index.ts';
import type { ChannelAdapter } from './channel.ts';
import { limitModes } from './registry.ts';
import { alipayGateways, createAlipayChannel } from './alipay/index.ts';
import { createWechatPayChannel } from './wechat-pay/index.ts';
import { createUnionPayChannel, unionPayLiveBaseUrl } from './unionpay/index.ts';
import { createStripeAcquirerChannel } from './stripe-acquirer/index.ts';

export interface CredentialField {
  readonly secret: boolean;
  readonly required: boolean;
  readonly description: string;
  readonly default?: string;
}

export interface ChannelCatalogEntry {
  readonly channel: string;
  readonly displayName: string;
  readonly paymentMethodTypes: readonly string[];
  readonly fields: Readonly<Record<string, CredentialField>>;
  /** Where the heartbeat probe goes: `health_url` when given (the emulators have one), else the API host. */
  probeUrl(publicCredentials: Readonly<Record<string, string>>): string;
  /** Builds the adapter for one account; throws when the credentials cannot work (bad key, wrong mode). */
  build(input: { credentials: Readonly<Record<string, string>>; livemode: boolean; notifyUrl: string }): ChannelAdapter;
}

const field = (description: string, options: { secret?: boolean; required?: boolean; default?: string } = {}): CredentialField => ({
  secret: options.secret ?? false,
  required: options.required ?? options.default === undefined,
  description,
  ...(options.default === undefined ? {} : { default: options.default }),
});

const mode = (livemode: boolean) => (livemode ? 'live' : 'test');
const optional = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);

export const channelCatalog: ReadonlyMap<string, ChannelCatalogEntry> = new Map<string, ChannelCatalogEntry>([
  [
    'alipay',
    {
      channel: 'alipay',
      displayName: 'Alipay',
      paymentMethodTypes: ['alipay'],
      fields: {
        app_id: field('The Alipay open-platform app id.'),
        private_key: field('The app private key (PEM, PKCS#1 or PKCS#8, or the bare base64 the console shows).', { secret: true }),
        alipay_public_key: field('Alipay\'s public key for this app (PEM or base64).'),
        gateway: field('The OpenAPI gateway.', { default: alipayGateways.production }),
        health_url: field('Where the heartbeat probe goes (default: the gateway).', { required: false }),
      },
      probeUrl: (c) => c.health_url ?? c.gateway ?? alipayGateways.production,
      build: ({ credentials: c, livemode, notifyUrl }) =>
        limitModes(
          createAlipayChannel({ credentials: { appId: c.app_id!, privateKey: new Secret(c.private_key!), alipayPublicKey: c.alipay_public_key!, gateway: c.gateway!, notifyUrl } }),
          [mode(livemode)],
        ),
    },
  ],
  [
    'wechat_pay',
    {
      channel: 'wechat_pay',
      displayName: 'WeChat Pay',
      paymentMethodTypes: ['wechat_pay'],
      fields: {
        mch_id: field('商户号, the merchant number.'),
        app_id: field('The AppID bound to the merchant (official account, mini program or app).'),
        merchant_serial_no: field('Serial number of the merchant API certificate.'),
        merchant_private_key: field('apiclient_key.pem.', { secret: true }),
        api_v3_key: field('The 32-character APIv3 key.', { secret: true }),
        platform_public_key: field('WeChat Pay public key (PEM), for public-key mode; leave out for platform-certificate mode.', { required: false }),
        public_key_id: field('The public key id PUB_KEY_ID_…, with platform_public_key.', { required: false }),
        base_url: field('API v3 base URL.', { default: 'https://api.mch.weixin.qq.com' }),
        health_url: field('Where the heartbeat probe goes (default: the base URL).', { required: false }),
      },
      probeUrl: (c) => c.health_url ?? c.base_url ?? 'https://api.mch.weixin.qq.com',
      build: ({ credentials: c, livemode, notifyUrl }) =>
        limitModes(
          createWechatPayChannel({
            credentials: {
              mchId: c.mch_id!,
              appId: c.app_id!,
              merchantSerialNo: c.merchant_serial_no!,
              merchantPrivateKey: new Secret(c.merchant_private_key!),
              apiV3Key: new Secret(c.api_v3_key!),
              baseUrl: c.base_url!,
              ...(optional(c.platform_public_key) ? { platformPublicKey: c.platform_public_key, publicKeyId: optional(c.public_key_id) } : {}),
            },
            notifyUrl,
          }),
          [mode(livemode)],
        ),
    },
  ],
  [
    'unionpay',
    {
      channel: 'unionpay',
      displayName: 'UnionPay',
      paymentMethodTypes: ['unionpay'],
      fields: {
        mer_id: field('The 15-digit merchant number (merId).'),
        sign_cert_private_key: field('The signing certificate\'s private key (PEM).', { secret: true }),
        sign_cert_id: field('The signing certificate\'s serial number in decimal (certId).'),
        root_cert_pem: field('UnionPay\'s root CA certificate (PEM).'),
        middle_cert_pem: field('UnionPay\'s middle CA certificate (PEM).'),
        base_url: field('The ACP gateway base URL.', { default: unionPayLiveBaseUrl }),
        health_url: field('Where the heartbeat probe goes (default: the gateway).', { required: false }),
      },
      probeUrl: (c) => c.health_url ?? c.base_url ?? unionPayLiveBaseUrl,
      build: ({ credentials: c, livemode, notifyUrl }) => {
        const credentials = {
          merId: c.mer_id!,
          signCertPrivateKey: new Secret(c.sign_cert_private_key!),
          signCertId: c.sign_cert_id!,
          rootCertPem: c.root_cert_pem!,
          middleCertPem: c.middle_cert_pem!,
          baseUrl: c.base_url!,
        };
        return createUnionPayChannel({ ...(livemode ? { live: credentials } : { test: credentials }), notifyUrl });
      },
    },
  ],
  [
    'stripe_acquirer',
    {
      channel: 'stripe_acquirer',
      displayName: 'Card acquirer (Stripe API)',
      paymentMethodTypes: ['card'],
      fields: {
        secret_key: field('The acquirer secret key (sk_live_… for live mode, sk_test_… for test mode).', { secret: true }),
        api_base: field('The acquirer\'s API base URL (another Stripe-compatible acquirer, or a Fenpay).', { default: 'https://api.stripe.com' }),
        health_url: field('Where the heartbeat probe goes (default: the API base).', { required: false }),
      },
      probeUrl: (c) => c.health_url ?? c.api_base ?? 'https://api.stripe.com',
      build: ({ credentials: c, livemode }) => {
        const base = new URL(c.api_base!);
        const protocol = base.protocol === 'http:' ? 'http' : 'https';
        return createStripeAcquirerChannel({
          credentials: { secretKey: new Secret(c.secret_key!), host: base.hostname, ...(base.port ? { port: Number(base.port) } : {}), protocol },
          modes: [mode(livemode)],
        });
      },
    },
  ],
]);
