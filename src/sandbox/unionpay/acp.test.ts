import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { acpAnswerText, acpSign, acpSigningString, acpVerify, beijingTime, fromBeijingTime } from './acp.ts';
import { dailyBill, billHeader } from './bill.ts';
import { createFaults } from './faults.ts';
import type { AcpTransaction } from './store.ts';

describe("the emulator's ACP codec", () => {
  it('signs the hex SHA-256 of the sorted non-empty fields and verifies it', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const fields = { txnType: '01', orderId: 'Order0001', empty: '', signature: 'old' };
    expect(acpSigningString(fields)).toBe('orderId=Order0001&txnType=01');
    const signature = acpSign(fields, createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' })));
    expect(acpVerify({ ...fields, signature }, createPublicKey(publicKey.export({ type: 'spki', format: 'pem' })))).toBe(true);
    expect(acpVerify({ ...fields, orderId: 'Order0002', signature }, publicKey)).toBe(false);
  });

  it('writes answers as raw k=v text, bracing values that contain &', () => {
    expect(acpAnswerText({ respCode: '00', reqReserved: 'a=1&b=2', respMsg: '成功' })).toBe('respCode=00&reqReserved={a=1&b=2}&respMsg=成功');
  });

  it('reads and writes Beijing time', () => {
    expect(beijingTime(new Date('2031-06-15T16:00:00Z'))).toBe('20310616000000');
    expect(fromBeijingTime('20310616000000')?.toISOString()).toBe('2031-06-15T16:00:00.000Z');
    expect(fromBeijingTime('20311332000000')).toBeUndefined();
  });
});

describe('fault switches', () => {
  it('arms a count, consumes it one by one, and refuses nonsense counts', () => {
    const faults = createFaults();
    faults.inject('hang', 2);
    faults.inject('notify_drop');
    expect(faults.pending()).toEqual({ hang: 2, notify_drop: 1 });
    expect(faults.takeApi()).toBe('hang');
    expect(faults.takeNotification()).toBe('notify_drop');
    expect(faults.takeNotification()).toBeUndefined();
    expect(faults.takeApi()).toBe('hang');
    expect(faults.takeApi()).toBeUndefined();
    expect(() => faults.inject('http_500', 0)).toThrow(RangeError);
  });
});

describe('the daily bill', () => {
  it('lists the day’s successful transactions of the merchant, in completion order, amounts in fen', () => {
    const base = { merId: '777290058110048', currencyCode: '156', backUrl: undefined, reqReserved: undefined };
    const paidAt = new Date('2031-06-15T04:00:00Z');
    const transactions: AcpTransaction[] = [
      {
        ...base, txnType: '01', orderId: 'Order0001', txnTime: '20310615120000', txnAmt: 2000n, createdAt: paidAt, channelType: '07', frontUrl: undefined,
        payTimeout: undefined, orderDesc: undefined, token: 't1', status: 'paid', queryId: '310615120000000000001', respCode: '00', respMsg: 'ok',
        traceNo: '000001', traceTime: '0615120000', settleDate: '0615', completedAt: paidAt, amountRefunded: 500n, canceled: false,
      },
      {
        ...base, txnType: '01', orderId: 'Order0002', txnTime: '20310615120000', txnAmt: 900n, createdAt: paidAt, channelType: '07', frontUrl: undefined,
        payTimeout: undefined, orderDesc: undefined, token: 't2', status: 'declined', queryId: '310615120000000000002', respCode: '60', respMsg: 'no',
        traceNo: '000002', traceTime: '0615120000', settleDate: '0615', completedAt: paidAt, amountRefunded: 0n, canceled: false,
      },
      {
        ...base, txnType: '04', orderId: 'Refund0001', txnTime: '20310615130000', txnAmt: 500n, createdAt: new Date('2031-06-15T05:00:00Z'),
        origQryId: '310615120000000000001', queryId: '310615130000000000003', respCode: '00', respMsg: 'ok', traceNo: '000003', traceTime: '0615130000',
        settleDate: '0615', reqReserved: 'Order0001',
      },
      {
        ...base, txnType: '04', orderId: 'Refund0002', txnTime: '20310616130000', txnAmt: 100n, createdAt: new Date('2031-06-16T05:00:00Z'),
        origQryId: '310615120000000000001', queryId: '310616130000000000004', respCode: '00', respMsg: 'ok', traceNo: '000004', traceTime: '0616130000', settleDate: '0616',
      },
    ];
    expect(dailyBill(transactions, '777290058110048', '20310615').split('\n')).toEqual([
      billHeader,
      '01,Order0001,310615120000000000001,,20310615120000,2000,156,0615,000001,',
      '04,Refund0001,310615130000000000003,310615120000000000001,20310615130000,500,156,0615,000003,Order0001',
      '',
    ]);
    expect(dailyBill(transactions, '777290058110049', '20310615')).toBe(`${billHeader}\n`);
  });
});
