/**
 * The Fenpay process the benchmark measures: exactly src/main.ts, started under a command line of the
 * benchmark's own. On a shared machine, tools that stop stray development servers by command line
 * (`pkill -f src/main.ts`) stopped the measured server mid-phase; they no longer match it.
 */
await import('../src/main.ts');
