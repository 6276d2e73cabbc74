/**
 * The emulator's side of WeChat Pay API v3 cryptography, written independently of the adapter (they
 * meet over HTTP only): it checks the merchant's Authorization signature, signs its own answers and
 * notifications with the platform key, encrypts resources and certificates with AEAD_AES_256_GCM, and
 * issues a real X.509 platform certificate.
 */
import { createCipheriv, createSign, createVerify, generateKeyPairSync, randomBytes, randomInt, type KeyObject } from 'node:crypto';

export interface RsaKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

export function generateRsaKeyPair(): RsaKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey,
    publicKey,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

const alphanumerics = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function randomString(length: number, alphabet = alphanumerics): string {
  let out = '';
  for (let i = 0; i < length; i += 1) out += alphabet[randomInt(alphabet.length)];
  return out;
}

export function randomDigits(length: number): string {
  return randomString(length, '0123456789');
}

/** An upper-case hex certificate serial whose first digit keeps DER from adding a sign byte. */
export function randomSerial(): string {
  return `${randomInt(1, 8)}${randomString(39, '0123456789ABCDEF')}`;
}

export function sign(message: string, key: KeyObject): string {
  return createSign('RSA-SHA256').update(message, 'utf8').sign(key, 'base64');
}

export function verify(message: string, signature: string, key: KeyObject): boolean {
  try {
    return createVerify('RSA-SHA256').update(message, 'utf8').verify(key, signature, 'base64');
  } catch {
    return false;
  }
}

export interface AuthorizationFields {
  readonly mchid: string;
  readonly nonceStr: string;
  readonly signature: string;
  readonly timestamp: string;
  readonly serialNo: string;
}

/** `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"`, any order. */
export function parseAuthorization(header: string | undefined): AuthorizationFields | undefined {
  if (header?.startsWith('WECHATPAY2-SHA256-RSA2048 ') !== true) return undefined;
  const fields = new Map<string, string>();
  for (const match of header.slice('WECHATPAY2-SHA256-RSA2048 '.length).matchAll(/([a-z_]+)="([^"]*)"/g)) {
    fields.set(match[1] ?? '', match[2] ?? '');
  }
  const mchid = fields.get('mchid');
  const nonceStr = fields.get('nonce_str');
  const signature = fields.get('signature');
  const timestamp = fields.get('timestamp');
  const serialNo = fields.get('serial_no');
  if (mchid === undefined || nonceStr === undefined || signature === undefined || timestamp === undefined || serialNo === undefined) return undefined;
  return { mchid, nonceStr, signature, timestamp, serialNo };
}

export interface EncryptedResource {
  readonly algorithm: 'AEAD_AES_256_GCM';
  readonly ciphertext: string;
  readonly nonce: string;
  readonly associated_data: string;
}

/** AES-256-GCM with the APIv3 key; a 12-character nonce; the 16-byte tag appended before base64. */
export function encryptResource(plaintext: string, apiV3Key: string, associatedData: string): EncryptedResource {
  const nonce = randomString(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const encrypted = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { algorithm: 'AEAD_AES_256_GCM', ciphertext: encrypted.toString('base64'), nonce, associated_data: associatedData };
}

/** 32 printable characters, as the merchant platform lets merchants set the APIv3 key. */
export function randomApiV3Key(): string {
  return randomString(32);
}

export function randomBase64(bytes: number): string {
  return randomBytes(bytes).toString('base64');
}

const rsaSha256 = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as const;

export interface PlatformCertificate {
  readonly serialNo: string;
  readonly pem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** A self-signed X.509 certificate for the platform key, named as WeChat's are ("Tenpay.com sign"). */
export async function issuePlatformCertificate(options: { keyPair: RsaKeyPair; serialNo: string; notBefore: Date; notAfter: Date }): Promise<PlatformCertificate> {
  // @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata polyfill first.
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  const keys = {
    privateKey: options.keyPair.privateKey.toCryptoKey(rsaSha256, false, ['sign']),
    publicKey: options.keyPair.publicKey.toCryptoKey(rsaSha256, true, ['verify']),
  };
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: options.serialNo,
    name: 'CN=Tenpay.com sign, OU=Tenpay.com CA Center, O=Tenpay.com, L=Shenzhen, ST=Guangdong, C=CN',
    notBefore: options.notBefore,
    notAfter: options.notAfter,
    keys,
    signingAlgorithm: rsaSha256,
  });
  return { serialNo: options.serialNo, pem: certificate.toString('pem'), notBefore: options.notBefore, notAfter: options.notAfter };
}
