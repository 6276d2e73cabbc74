import { createHash, createPrivateKey, createPublicKey, createSign, generateKeyPairSync, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { issueAcpPki, issueCertificate, unionPaySigningCn, type AcpPki } from '../../sandbox/unionpay/index.ts';
import { certIdOf, checkSigningCertificate, signFields, signingDigestHex, signingString, verifyFieldsSignature, verifyMessage, type UnionPayTrustAnchors } from './unionpay-sign.ts';

const now = new Date('2031-06-15T04:00:00Z');

describe('the signing string (coverMap2String)', () => {
  it('sorts by key, drops signature and empty values, and does not url-encode', () => {
    const fields = { txnAmt: '1000', signature: 'xyz', backUrl: 'https://m.example/n?a=1&b=2', orderDesc: '', accessType: '0', Zeta: 'upper sorts first' };
    expect(signingString(fields)).toBe('Zeta=upper sorts first&accessType=0&backUrl=https://m.example/n?a=1&b=2&txnAmt=1000');
  });

  it('is hashed to lower-case hex SHA-256, and that hex text is what gets signed', () => {
    const fields = { b: '2', a: '1', signature: 'ignored' };
    expect(signingDigestHex(fields)).toBe(createHash('sha256').update('a=1&b=2').digest('hex'));
    expect(signingDigestHex(fields)).toMatch(/^[0-9a-f]{64}$/);
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const signature = signFields(fields, privateKey);
    // SHA256withRSA over the 64 hex characters, not over the raw string or the raw digest bytes.
    expect(cryptoVerify('sha256', Buffer.from(signingDigestHex(fields), 'utf8'), publicKey, Buffer.from(signature, 'base64'))).toBe(true);
    expect(cryptoVerify('sha256', Buffer.from('a=1&b=2', 'utf8'), publicKey, Buffer.from(signature, 'base64'))).toBe(false);
    const rawSigned = createSign('RSA-SHA256').update('a=1&b=2').sign(privateKey, 'base64');
    expect(verifyFieldsSignature({ ...fields, signature: rawSigned }, publicKey)).toBe(false);
    expect(verifyFieldsSignature({ ...fields, signature }, publicKey)).toBe(true);
  });

  it('fails verification when any signed field changes or the signature is missing', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const fields = { orderId: 'Order0001', txnAmt: '2000' };
    const signature = signFields(fields, privateKey);
    expect(verifyFieldsSignature({ ...fields, signature }, publicKey)).toBe(true);
    expect(verifyFieldsSignature({ ...fields, txnAmt: '2001', signature }, publicKey)).toBe(false);
    expect(verifyFieldsSignature({ ...fields, extra: 'x', signature }, publicKey)).toBe(false);
    expect(verifyFieldsSignature(fields, publicKey)).toBe(false);
    expect(verifyFieldsSignature({ ...fields, signature: 'not base64 at all!' }, publicKey)).toBe(false);
  });
});

describe('the signing certificate check', () => {
  let pki: AcpPki;
  let other: AcpPki;
  let anchors: UnionPayTrustAnchors;

  beforeAll(async () => {
    [pki, other] = await Promise.all([issueAcpPki({ now, label: 'Test UnionPay' }), issueAcpPki({ now, label: 'Impostor' })]);
    anchors = { root: new X509Certificate(pki.root.certPem), middle: new X509Certificate(pki.middle.certPem), acceptTestCn: false };
  });

  function signedBy(signing: { certPem: string; keyPem: string }) {
    const fields = { respCode: '00', orderId: 'Order0001', signPubKeyCert: signing.certPem };
    return { ...fields, signature: signFields(fields, createPrivateKey(signing.keyPem)) };
  }

  it('accepts a certificate that chains to the configured root and names 中国银联股份有限公司', () => {
    const check = checkSigningCertificate(pki.signing.certPem, anchors, now);
    expect(check.ok).toBe(true);
    expect(verifyMessage(signedBy(pki.signing), anchors, now)).toEqual({ ok: true });
    expect(certIdOf(new X509Certificate(pki.signing.certPem))).toBe(pki.signing.certId);
  });

  it('rejects a look-alike chain under another root', () => {
    expect(checkSigningCertificate(other.signing.certPem, anchors, now)).toEqual({ ok: false, reason: 'signPubKeyCert does not chain to the UnionPay root' });
    expect(verifyMessage(signedBy(other.signing), anchors, now).ok).toBe(false);
  });

  it('rejects a middle certificate from another root even with a genuine-looking leaf', () => {
    const wrongAnchors = { ...anchors, middle: new X509Certificate(other.middle.certPem) };
    expect(checkSigningCertificate(pki.signing.certPem, wrongAnchors, now).ok).toBe(false);
  });

  it('rejects an expired certificate and one not yet valid', async () => {
    const expired = await issueCertificate({ commonName: unionPaySigningCn, issuer: pki.middle, ca: false, notBefore: new Date('2030-01-01T00:00:00Z'), notAfter: new Date('2031-06-15T03:59:59Z') });
    expect(checkSigningCertificate(expired.certPem, anchors, now)).toEqual({ ok: false, reason: 'signPubKeyCert is outside its validity period' });
    expect(checkSigningCertificate(expired.certPem, anchors, new Date('2031-06-15T03:00:00Z')).ok).toBe(true);
    const future = await issueCertificate({ commonName: unionPaySigningCn, issuer: pki.middle, ca: false, notBefore: new Date('2031-06-16T00:00:00Z'), notAfter: new Date('2032-01-01T00:00:00Z') });
    expect(checkSigningCertificate(future.certPem, anchors, now).ok).toBe(false);
  });

  it('rejects a certificate whose CN does not name China UnionPay in field [2]', async () => {
    const wrongCn = await issueCertificate({ commonName: '041@Z12345678901234@中国银联股份有限公司假@00000001', issuer: pki.middle, ca: false, notBefore: new Date('2031-01-01T00:00:00Z'), notAfter: new Date('2032-01-01T00:00:00Z') });
    expect(checkSigningCertificate(wrongCn.certPem, anchors, now)).toEqual({ ok: false, reason: 'signPubKeyCert CN does not name China UnionPay' });
    const shifted = await issueCertificate({ commonName: '中国银联股份有限公司@041@Z1@00000001', issuer: pki.middle, ca: false, notBefore: new Date('2031-01-01T00:00:00Z'), notAfter: new Date('2032-01-01T00:00:00Z') });
    expect(checkSigningCertificate(shifted.certPem, anchors, now).ok).toBe(false);
  });

  it("accepts the test environment's 00040000:SIGN marker only when told to", async () => {
    const testCn = await issueCertificate({ commonName: '041@Z12400000000001@00040000:SIGN@00000002', issuer: pki.middle, ca: false, notBefore: new Date('2031-01-01T00:00:00Z'), notAfter: new Date('2032-01-01T00:00:00Z') });
    expect(checkSigningCertificate(testCn.certPem, anchors, now).ok).toBe(false);
    expect(checkSigningCertificate(testCn.certPem, { ...anchors, acceptTestCn: true }, now).ok).toBe(true);
  });

  it('rejects a CA certificate used as the signing certificate, a bad PEM and a missing one', () => {
    expect(checkSigningCertificate(pki.middle.certPem, anchors, now).ok).toBe(false);
    expect(checkSigningCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', anchors, now)).toEqual({ ok: false, reason: 'signPubKeyCert is not a certificate' });
    expect(verifyMessage({ respCode: '00', signature: 'x' }, anchors, now)).toEqual({ ok: false, reason: 'the message carries no signPubKeyCert' });
  });

  it('rejects a good certificate carrying a signature made with another key', () => {
    const fields = { respCode: '00', signPubKeyCert: pki.signing.certPem };
    const forged = { ...fields, signature: signFields(fields, createPrivateKey(other.signing.keyPem)) };
    expect(verifyMessage(forged, anchors, now)).toEqual({ ok: false, reason: 'the signature does not verify' });
    expect(createPublicKey(pki.signing.certPem).asymmetricKeyType).toBe('rsa');
  });
});
