/**
 * The emulator's own certificate authority, shaped like UnionPay's: a root, a middle CA under it, and
 * under the middle a signing certificate whose CN follows UnionPay's `…@…@中国银联股份有限公司@…`
 * pattern (channels-cn.md §5.1). It also issues the merchant's signing certificate, whose public key
 * the emulator uses to verify requests (UnionPay knows each merchant's certificate by certId).
 * RSA 2048 with SHA-256, created with @peculiar/x509 on WebCrypto and exported as PEM for node:crypto.
 */
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata polyfill first.
import 'reflect-metadata';
import { createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

const rsa = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 } as const;

/** The CN UnionPay's production signing certificate has, in shape. */
export const unionPaySigningCn = '041@Z12345678901234@中国银联股份有限公司@00000001';

export interface IssuedCertificate {
  readonly certPem: string;
  /** PKCS#8 PEM. */
  readonly keyPem: string;
  /** The serial number in decimal: ACP's certId. */
  readonly certId: string;
  /** For issuing further certificates. */
  readonly keys: webcrypto.CryptoKeyPair;
  readonly certificate: x509.X509Certificate;
}

export interface IssueOptions {
  readonly commonName: string;
  readonly organization?: string;
  /** None: self-signed (a root). */
  readonly issuer?: IssuedCertificate;
  readonly ca: boolean;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

function randomSerialHex(): string {
  const bytes = randomBytes(9);
  bytes[0] = (bytes[0] ?? 0) & 0x7f | 0x10; // positive, and no leading zero byte
  return bytes.toString('hex');
}

export async function issueCertificate(options: IssueOptions): Promise<IssuedCertificate> {
  const keys = await webcrypto.subtle.generateKey(rsa, true, ['sign', 'verify']);
  const serialNumber = randomSerialHex();
  const name = [{ CN: [options.commonName] }, { O: [options.organization ?? 'Fenpay sandbox'] }, { C: ['CN'] }];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(options.ca, options.ca ? 1 : undefined, true),
    new x509.KeyUsagesExtension(options.ca ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const base = { serialNumber, notBefore: options.notBefore, notAfter: options.notAfter, signingAlgorithm: rsa };
  const certificate =
    options.issuer === undefined
      ? await x509.X509CertificateGenerator.createSelfSigned({ ...base, name, keys, extensions })
      : await x509.X509CertificateGenerator.create({
          ...base,
          subject: name,
          issuer: options.issuer.certificate.subject,
          publicKey: keys.publicKey,
          signingKey: options.issuer.keys.privateKey,
          extensions: [...extensions, await x509.AuthorityKeyIdentifierExtension.create(options.issuer.keys.publicKey)],
        });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }).toString();
  return { certPem: certificate.toString('pem'), keyPem, certId: BigInt(`0x${serialNumber}`).toString(10), keys, certificate };
}

export interface AcpPki {
  readonly root: IssuedCertificate;
  readonly middle: IssuedCertificate;
  /** UnionPay's signing certificate: signs every answer and notification. */
  readonly signing: IssuedCertificate;
}

export interface AcpPkiOptions {
  readonly now: Date;
  readonly label: string;
  readonly signingCn?: string;
  readonly signingNotBefore?: Date;
  readonly signingNotAfter?: Date;
}

const dayMs = 24 * 60 * 60 * 1000;

/** A root → middle → signing chain. Validity is generous around `now` so a compressed clock stays inside it. */
export async function issueAcpPki(options: AcpPkiOptions): Promise<AcpPki> {
  const from = new Date(options.now.getTime() - 30 * dayMs);
  const until = new Date(options.now.getTime() + 20 * 365 * dayMs);
  const root = await issueCertificate({ commonName: `${options.label} Root CA`, ca: true, notBefore: from, notAfter: until });
  const middle = await issueCertificate({ commonName: `${options.label} Middle CA`, issuer: root, ca: true, notBefore: from, notAfter: until });
  const signing = await issueCertificate({
    commonName: options.signingCn ?? unionPaySigningCn,
    organization: 'China UnionPay',
    issuer: middle,
    ca: false,
    notBefore: options.signingNotBefore ?? from,
    notAfter: options.signingNotAfter ?? new Date(options.now.getTime() + 5 * 365 * dayMs),
  });
  return { root, middle, signing };
}
