/** Structured JSON logs. Secrets, keys and anything card-shaped are redacted before a line is written. */
import pino, { type DestinationStream, type Logger } from 'pino';

const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.authorization',
  '*.password',
  '*.secret',
  '*.apiKey',
  '*.key',
  '*.number',
  '*.cvc',
  '*.card.number',
  '*.card.cvc',
  'body.card',
  '*.body.card',
];

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino({
    level: options.level,
    base: { service: 'fenpay' },
    redact: { paths: redactPaths, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // A card number that slipped into a message string is masked as a last line of defence.
    hooks: {
      logMethod(args, method) {
        const masked = args.map((a) => (typeof a === 'string' ? maskPan(a) : a)) as Parameters<typeof method>;
        method.apply(this, masked);
      },
    },
  }, options.destination);
}

/** Masks runs of 13–19 digits (optionally spaced) that look like card numbers. */
export function maskPan(text: string): string {
  return text.replace(/\b(?:\d[ -]?){12,18}\d\b/g, (match) => {
    const digits = match.replace(/\D/g, '');
    return `[card ****${digits.slice(-4)}]`;
  });
}
