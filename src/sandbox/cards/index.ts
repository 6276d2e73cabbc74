/**
 * The sandbox card acquirer: an emulator of an external card acquirer and issuer (with a 3-D Secure
 * challenge page), driven by Stripe's test card numbers. Test mode and `npm start` route cards here.
 * See docs/sandbox-cards.md for what each test card does.
 */
export {
  createSandboxCardAcquirer,
  type SandboxCardAcquirer,
  type SandboxCardAcquirerOptions,
  type SandboxChallengeCompletion,
  type SandboxChallengeView,
} from './acquirer.ts';
export { sandboxCardPages, type SandboxCardPagesOptions } from './pages.ts';
export { sandboxTestCards, sandboxTimeoutCardNumber, scenarioFor, type CardScenario } from './scenarios.ts';
export {
  sandboxCardStatuses,
  sandboxDeclineReasons,
  SandboxCardTimeoutError,
  type SandboxCardAnswer,
  type SandboxCardAuthorizeRequest,
  type SandboxCardCaptureRequest,
  type SandboxCardOperationAnswer,
  type SandboxCardOrderRef,
  type SandboxCardRefundRequest,
  type SandboxCardStatus,
  type SandboxDeclineReason,
} from './wire.ts';
export type { SandboxCardTables } from './tables.ts';
