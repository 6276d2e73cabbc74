/**
 * The house's dependency rules (STYLE.md "Rooms with faces"), enforced in CI:
 * kernel imports nothing; a room is entered only through its index.ts; rooms never import each other;
 * a channel imports only kernel, the channel interface and its own provider SDK (for the sandbox card
 * channel, the emulator's face); nothing below http/jobs imports them.
 */
const rooms = ['merchants', 'customers', 'payment-methods', 'payments', 'events', 'idempotency', 'ledger', 'vault', 'webhooks', 'checkout'];
const roomAlternation = rooms.join('|');

module.exports = {
  forbidden: [
    {
      name: 'kernel-imports-nothing',
      severity: 'error',
      from: { path: '^src/kernel/' },
      to: { path: '^src/', pathNot: '^src/kernel/' },
    },
    {
      name: 'db-imports-only-kernel',
      severity: 'error',
      from: { path: '^src/db/' },
      to: { path: '^src/', pathNot: '^src/(kernel|db)/' },
    },
    {
      name: 'enter-rooms-through-their-face',
      comment: 'Outside a room, import only its index.ts.',
      severity: 'error',
      from: { path: '^src/', pathNot: `^src/(${roomAlternation})/` },
      to: { path: `^src/(${roomAlternation})/`, pathNot: `^src/(${roomAlternation})/index\\.ts$` },
    },
    {
      name: 'rooms-do-not-call-each-other',
      comment: 'Work that spans rooms lives in flows.',
      severity: 'error',
      from: { path: `^src/(${roomAlternation})/` },
      to: { path: `^src/(${roomAlternation})/`, pathNot: ['^src/$1/'] },
    },
    {
      name: 'rooms-stay-below-flows',
      severity: 'error',
      from: { path: `^src/(${roomAlternation})/` },
      to: { path: '^src/(flows|http|jobs|channels|sandbox|boot|main|cli|seed)' },
    },
    {
      name: 'channels-translate-only',
      comment: 'A channel imports only kernel, channels/channel.ts and its own provider SDK (sandbox emulator face).',
      severity: 'error',
      from: { path: '^src/channels/([^/]+)/' },
      to: { path: '^src/', pathNot: ['^src/kernel/', '^src/channels/channel\\.ts$', '^src/channels/$1/', '^src/sandbox/[^/]+/index\\.ts$'] },
    },
    {
      name: 'flows-below-delivery',
      severity: 'error',
      from: { path: '^src/flows/' },
      to: { path: '^src/(http|jobs|boot|main|cli)' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
