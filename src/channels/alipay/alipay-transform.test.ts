import { describe, expect, it } from 'vitest';
import type { AuthorizeRequest, NextAction, OrderRef, RefundRequest } from '../channel.ts';
import { alipayTradeStatuses, tradeStatusMeanings } from './alipay-status.ts';
import {
  beijingDateTime,
  orderBiz,
  outcomeFromClose,
  outcomeFromPrecreate,
  outcomeFromQuery,
  outcomeFromRefund,
  outcomeFromRefundQuery,
  subjectOf,
  type AlipayCall,
} from './alipay-transform.ts';

const order: OrderRef = { orderNo: 'ord_1', reference: undefined, amount: 1_234n, currency: 'cny' };
const resume = (): NextAction => ({ type: 'redirect_to_url', url: 'https://gateway.test/resume' });

function answer(body: Record<string, unknown>): AlipayCall {
  const code = typeof body.code === 'string' ? body.code : '10000';
  return {
    kind: 'answer',
    result: {
      code,
      msg: undefined,
      subCode: typeof body.sub_code === 'string' ? body.sub_code : undefined,
      subMsg: undefined,
      body: { code, ...body },
    },
  };
}

function queried(fields: Record<string, unknown>) {
  return outcomeFromQuery(answer({ out_trade_no: 'ord_1', trade_no: '2024010122001400000000000001', total_amount: '12.34', ...fields }), order, resume);
}

describe('orderBiz', () => {
  const request: AuthorizeRequest = {
    orderNo: 'ord_1',
    amount: 1_234n,
    currency: 'cny',
    capture: 'automatic',
    paymentMethod: { type: 'alipay' },
    description: 'two mugs',
    returnUrl: 'https://shop.test/back',
    livemode: false,
    subject: 'Mugs',
    expiresAt: new Date('2024-01-31T16:30:00Z'),
  };

  it('writes yuan, the product code, and time_expire in Beijing time', () => {
    expect(orderBiz(request, 'wap')).toEqual({
      out_trade_no: 'ord_1',
      total_amount: '12.34',
      subject: 'Mugs',
      body: 'two mugs',
      product_code: 'QUICK_WAP_WAY',
      time_expire: '2024-02-01 00:30:00',
      quit_url: 'https://shop.test/back',
    });
    expect(orderBiz(request, 'qr').product_code).toBe('FACE_TO_FACE_PAYMENT');
  });

  it('falls back to the description, then the order number, for the subject, cut at 256 characters', () => {
    expect(subjectOf({ ...request, subject: undefined })).toBe('two mugs');
    expect(subjectOf({ ...request, subject: undefined, description: undefined })).toBe('ord_1');
    expect([...subjectOf({ ...request, subject: '茶'.repeat(300) })]).toHaveLength(256);
  });

  it('formats Beijing time whatever the host time zone', () => {
    expect(beijingDateTime(new Date('2023-12-31T16:00:00Z'))).toBe('2024-01-01 00:00:00');
  });
});

describe('outcomeFromQuery', () => {
  it('maps every trade status', () => {
    expect(Object.keys(tradeStatusMeanings).sort()).toEqual([...alipayTradeStatuses].sort());
    expect(queried({ trade_status: 'TRADE_SUCCESS' })).toEqual({ status: 'succeeded', reference: '2024010122001400000000000001', amount: 1_234n, currency: 'cny' });
    expect(queried({ trade_status: 'TRADE_FINISHED' })).toMatchObject({ status: 'succeeded' });
    expect(queried({ trade_status: 'WAIT_BUYER_PAY' })).toEqual({ status: 'requires_action', reference: '2024010122001400000000000001', action: resume() });
    expect(queried({ trade_status: 'TRADE_CLOSED' })).toEqual({ status: 'canceled', reference: '2024010122001400000000000001' });
  });

  it('reads TRADE_CLOSED with send_pay_date as paid then fully refunded, not as unpaid', () => {
    expect(queried({ trade_status: 'TRADE_CLOSED', send_pay_date: '2024-01-01 10:00:00' })).toMatchObject({ status: 'succeeded', amount: 1_234n });
  });

  it('echoes the amount Alipay reports, not the one asked for', () => {
    expect(queried({ trade_status: 'TRADE_SUCCESS', total_amount: '0.01' })).toMatchObject({ status: 'succeeded', amount: 1n });
  });

  it('keeps anything it cannot read processing', () => {
    expect(queried({ trade_status: 'TRADE_PENDING' })).toMatchObject({ status: 'processing' });
    expect(queried({ trade_status: undefined })).toMatchObject({ status: 'processing' });
    expect(queried({ trade_status: 'TRADE_SUCCESS', total_amount: '12.345' })).toMatchObject({ status: 'processing' });
    expect(queried({ trade_status: 'TRADE_SUCCESS', out_trade_no: 'ord_2' })).toMatchObject({ status: 'processing' });
    expect(queried({ trade_status: 'TRADE_SUCCESS', trade_no: undefined })).toMatchObject({ status: 'processing' });
    expect(outcomeFromQuery({ kind: 'unknown', reason: 'AlipayRequestError HTTP 502' }, order, resume)).toEqual({ status: 'processing', reference: undefined, reason: 'AlipayRequestError HTTP 502' });
  });

  it('treats ACQ.TRADE_NOT_EXIST and every other error as not known yet', () => {
    for (const body of [
      { code: '40004', sub_code: 'ACQ.TRADE_NOT_EXIST' },
      { code: '40004', sub_code: 'ACQ.SYSTEM_ERROR' },
      { code: '20000', sub_code: 'isp.unknow-error' },
      { code: '40002', sub_code: 'isv.invalid-signature' },
    ]) {
      expect(outcomeFromQuery(answer(body), order, resume).status, JSON.stringify(body)).toBe('processing');
    }
  });
});

describe('outcomeFromPrecreate', () => {
  it('returns the QR for this order only', () => {
    expect(outcomeFromPrecreate(answer({ out_trade_no: 'ord_1', qr_code: 'https://qr.alipay.com/bax1' }), 'ord_1', undefined)).toEqual({
      status: 'requires_action',
      reference: 'ord_1',
      action: { type: 'display_qr_code', data: 'https://qr.alipay.com/bax1' },
    });
    expect(outcomeFromPrecreate(answer({ out_trade_no: 'ord_9', qr_code: 'https://qr.alipay.com/bax1' }), 'ord_1', undefined).status).toBe('processing');
  });

  it('fails only on explicit refusals, and names them', () => {
    expect(outcomeFromPrecreate(answer({ code: '40004', sub_code: 'ACQ.TOTAL_FEE_EXCEED' }), 'ord_1', undefined)).toMatchObject({
      status: 'failed',
      failure: { code: 'card_declined', declineCode: 'alipay_amount_exceeds_limit' },
    });
    expect(outcomeFromPrecreate(answer({ code: '40004', sub_code: 'ACQ.SOMETHING_NEW' }), 'ord_1', undefined)).toMatchObject({ failure: { declineCode: 'alipay_declined' } });
    expect(outcomeFromPrecreate(answer({ code: '40002', sub_code: 'isv.invalid-signature' }), 'ord_1', undefined)).toMatchObject({ failure: { declineCode: 'alipay_request_rejected' } });
    expect(outcomeFromPrecreate(answer({ code: '40004', sub_code: 'ACQ.TRADE_HAS_CLOSE' }), 'ord_1', undefined)).toEqual({ status: 'canceled', reference: undefined });
    for (const body of [{ code: '40004', sub_code: 'ACQ.SYSTEM_ERROR' }, { code: '40004', sub_code: 'ACQ.TRADE_HAS_SUCCESS' }, { code: '20000' }, { code: '40004' }, { code: '10003' }]) {
      expect(outcomeFromPrecreate(answer(body), 'ord_1', undefined).status, JSON.stringify(body)).toBe('processing');
    }
  });
});

describe('operations', () => {
  const refund: RefundRequest = { ...order, refundNo: 'rf_1', refundAmount: 500n };

  it('counts ACQ.TRADE_NOT_EXIST as closed and refuses to call a paid order closed', () => {
    expect(outcomeFromClose(answer({ code: '40004', sub_code: 'ACQ.TRADE_NOT_EXIST' }), 'ord_1')).toEqual({ status: 'succeeded', reference: 'ord_1' });
    expect(outcomeFromClose(answer({ code: '40004', sub_code: 'ACQ.TRADE_STATUS_ERROR' }), 'ord_1').status).toBe('failed');
    expect(outcomeFromClose(answer({ code: '20000' }), 'ord_1').status).toBe('processing');
  });

  it('believes a refund only when money moved, and asks the refund query otherwise', () => {
    expect(outcomeFromRefund(answer({ out_trade_no: 'ord_1', trade_no: 't1', fund_change: 'Y' }), refund)).toEqual({ status: 'succeeded', reference: 't1' });
    expect(outcomeFromRefund(answer({ out_trade_no: 'ord_1', trade_no: 't1', fund_change: 'N' }), refund)).toBe('confirm_by_query');
    expect(outcomeFromRefund(answer({ code: '40004', sub_code: 'ACQ.REFUND_AMT_NOT_EQUAL_TOTAL' }), refund)).toMatchObject({ status: 'failed' });
    expect(outcomeFromRefund(answer({ code: '40004', sub_code: 'ACQ.SYSTEM_ERROR' }), refund)).toMatchObject({ status: 'processing' });
  });

  it('reads an empty refund query answer as not known, never as success', () => {
    expect(outcomeFromRefundQuery(answer({}), refund).status).toBe('processing');
    const found = { out_trade_no: 'ord_1', trade_no: 't1', out_request_no: 'rf_1', refund_amount: '5.00' };
    expect(outcomeFromRefundQuery(answer({ ...found, refund_status: 'REFUND_SUCCESS' }), refund)).toEqual({ status: 'succeeded', reference: 't1' });
    expect(outcomeFromRefundQuery(answer(found), refund).status).toBe('processing');
    expect(outcomeFromRefundQuery(answer({ ...found, refund_status: 'REFUND_SUCCESS', refund_amount: '5.01' }), refund)).toEqual({ status: 'processing', reason: 'integrity_mismatch' });
  });
});
