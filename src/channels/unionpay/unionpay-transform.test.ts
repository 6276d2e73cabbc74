import { describe, expect, it } from 'vitest';
import type { AuthorizeRequest } from '../channel.ts';
import { cancelOrderIdFor, formatReference, frontConsumeFields, operationFromBackTrans, parseReference, paymentOutcomeFromQuery, refundOutcomeFromQuery } from './unionpay-transform.ts';
import { beijingTimestamp, decodeForm, parseAnswer, parseBeijingTimestamp, parseFen } from './unionpay-wire.ts';

const context = { mode: 'test', txnTime: '20310615120000' } as const;

describe('Beijing timestamps', () => {
  it('formats UTC+8 with no daylight saving, across a date line', () => {
    expect(beijingTimestamp(new Date('2031-06-15T04:00:00Z'))).toBe('20310615120000');
    expect(beijingTimestamp(new Date('2031-12-31T16:30:05Z'))).toBe('20320101003005');
    expect(parseBeijingTimestamp('20320101003005')?.toISOString()).toBe('2031-12-31T16:30:05.000Z');
    expect(parseBeijingTimestamp('20310231120000')).toBeUndefined();
  });
});

describe('the reference', () => {
  it('round-trips mode, txnTime and queryId', () => {
    expect(formatReference({ mode: 'test', txnTime: '20310615120000', queryId: undefined })).toBe('test.20310615120000');
    expect(parseReference('live.20310615120000.312345678901234567890')).toEqual({ mode: 'live', txnTime: '20310615120000', queryId: '312345678901234567890' });
    expect(parseReference('sca_123')).toBeUndefined();
    expect(parseReference('test.2031061512')).toBeUndefined();
    expect(parseReference(undefined)).toBeUndefined();
  });
});

describe('ACP answers', () => {
  it('parses raw k=v text with PEM values and braced values', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB+/a==\n-----END CERTIFICATE-----';
    expect(parseAnswer(`respCode=00&signPubKeyCert=${pem}&customerInfo={phoneNo=138&certId=1}&respMsg=成功`)).toEqual({
      respCode: '00',
      signPubKeyCert: pem,
      customerInfo: '{phoneNo=138&certId=1}',
      respMsg: '成功',
    });
    expect(parseAnswer('a=1&a=2')).toBeUndefined();
    expect(parseAnswer('<html>')).toBeUndefined();
    expect(decodeForm('a=1&a=2')).toBeUndefined();
  });

  it('parses fen without floats and refuses anything else', () => {
    expect(parseFen('1999')).toBe(1999n);
    expect(parseFen('19.99')).toBeUndefined();
    expect(parseFen('-1')).toBeUndefined();
    expect(parseFen('007')).toBeUndefined();
  });
});

describe('the front consume', () => {
  const request: AuthorizeRequest = {
    orderNo: 'Ab12Cd34Ef56Gh78Ij90Kl12',
    amount: 2_000n,
    currency: 'cny',
    capture: 'automatic',
    paymentMethod: { type: 'unionpay' },
    description: 'Tea & cake = <nice>',
    returnUrl: 'https://shop.example/return',
    livemode: false,
    flow: 'wap',
    expiresAt: new Date('2031-06-15T04:30:00Z'),
  };

  it('has the ACP 5.1.0 gateway consume fields', () => {
    expect(frontConsumeFields({ request, txnTime: '20310615120000', backUrl: 'https://pay.example/hooks/unionpay' })).toEqual({
      version: '5.1.0',
      encoding: 'UTF-8',
      signMethod: '01',
      accessType: '0',
      txnType: '01',
      txnSubType: '01',
      bizType: '000201',
      channelType: '08',
      orderId: 'Ab12Cd34Ef56Gh78Ij90Kl12',
      txnTime: '20310615120000',
      txnAmt: '2000',
      currencyCode: '156',
      backUrl: 'https://pay.example/hooks/unionpay',
      frontUrl: 'https://shop.example/return',
      payTimeout: '20310615123000',
      orderDesc: 'Tea   cake    nice ',
    });
    expect(frontConsumeFields({ request: { ...request, flow: 'page' }, txnTime: '20310615120000', backUrl: 'https://x.example' })['channelType']).toBe('07');
  });

  it('names the cancel of an order deterministically within 40 characters', () => {
    expect(cancelOrderIdFor('Ab12Cd34Ef56Gh78Ij90Kl12')).toBe('Ab12Cd34Ef56Gh78Ij90Kl12CX');
    expect(cancelOrderIdFor('A'.repeat(40))).toHaveLength(40);
  });
});

describe('query answers', () => {
  const paid = { respCode: '00', origRespCode: '00', queryId: '312345678901234567890', txnAmt: '2000', currencyCode: '156' };

  it.each([
    [{ respCode: '34' }, 'processing'],
    [{ respCode: '37' }, 'processing'],
    [{ respCode: '06' }, 'processing'],
    [{ ...paid, origRespCode: '03' }, 'processing'],
    [{ ...paid, origRespCode: '04' }, 'processing'],
    [{ ...paid, origRespCode: '05' }, 'processing'],
    [{ ...paid, origRespCode: '57' }, 'processing'],
    [{ ...paid, origRespCode: undefined }, 'processing'],
    [{ ...paid, origRespCode: '60' }, 'failed'],
    [paid, 'succeeded'],
  ] as const)('maps %j to %s', (answer, status) => {
    const fields = Object.fromEntries(Object.entries(answer).filter(([, v]) => v !== undefined)) as Record<string, string>;
    expect(paymentOutcomeFromQuery(fields, context).status).toBe(status);
  });

  it('gives the paid order its amount, CNY and a reference with the queryId', () => {
    expect(paymentOutcomeFromQuery(paid, context)).toEqual({ status: 'succeeded', reference: 'test.20310615120000.312345678901234567890', amount: 2000n, currency: 'cny' });
  });

  it('says what the decline was', () => {
    expect(paymentOutcomeFromQuery({ ...paid, origRespCode: '64', origRespMsg: '余额不足' }, context)).toMatchObject({
      status: 'failed',
      failure: { code: 'card_declined', declineCode: 'insufficient_funds', message: 'UnionPay 64: 余额不足' },
    });
  });

  it('treats a refund or cancel 00 as accepted, 03 and unknown codes as processing, refusals as failed', () => {
    expect(operationFromBackTrans({ respCode: '00', queryId: 'q1' }, 'refund')).toEqual({ status: 'processing', reason: 'unionpay_refund_accepted' });
    expect(operationFromBackTrans({ respCode: '00', queryId: 'q1' }, 'cancel')).toEqual({ status: 'succeeded', reference: 'q1' });
    expect(operationFromBackTrans({ respCode: '03' }, 'refund').status).toBe('processing');
    expect(operationFromBackTrans({ respCode: '12' }, 'cancel').status).toBe('processing');
    expect(operationFromBackTrans({ respCode: '88' }, 'refund').status).toBe('processing');
    expect(operationFromBackTrans({ respCode: '33', respMsg: '交易金额超限' }, 'refund')).toEqual({ status: 'failed', message: 'UnionPay 33: 交易金额超限' });
    expect(refundOutcomeFromQuery({ respCode: '34' }).status).toBe('processing');
    expect(refundOutcomeFromQuery({ respCode: '00', origRespCode: '00', queryId: 'q2' })).toEqual({ status: 'succeeded', reference: 'q2' });
  });
});

