/**
 * The UnionPay 全渠道 (ACP 5.1.0) emulator. Test mode and `npm start` point the UnionPay adapter at
 * it: register `plugin` on the app, give the adapter `credentials()`.
 *
 *   <prefix>/frontTransReq.do          the browser form target: the bilingual cashier page
 *   <prefix>/cashier/:token            the buyer's choice: action=approve | decline | walk_away
 *   <prefix>/backTransReq.do           refund (04), same-day cancel (31)
 *   <prefix>/queryTrans.do             query (00): respCode, origRespCode
 *   <prefix>/health                    liveness and what is armed
 *   <prefix>/bills/:yyyyMMdd           the daily reconciliation CSV (bill.ts)
 *   <prefix>/_control/faults           GET armed · POST {fault, count} · DELETE all (faults.ts)
 *   <prefix>/_control/notifications    GET the delivery log · POST …/flush releases held ones
 *   <prefix>/_control/transactions     GET what the emulator holds
 */
export {
  createUnionPayEmulator,
  type UnionPayEmulator,
  type UnionPayEmulatorCredentials,
  type UnionPayEmulatorOptions,
} from './emulator.ts';
export { apiFaults, notificationFaults, type ApiFault, type NotificationFault, type UnionPayFault, type UnionPayFaults } from './faults.ts';
export { defaultRetryMinutes, type NotificationDelivery } from './notifier.ts';
export { billHeader } from './bill.ts';
export { issueAcpPki, issueCertificate, unionPaySigningCn, type AcpPki, type IssuedCertificate } from './pki.ts';
export { createMemoryStore, type AcpTransaction, type UnionPayStore } from './store.ts';
