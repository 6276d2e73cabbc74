export * from './money.ts';
export * from './ids.ts';
export * from './secret.ts';
export * from './assert.ts';
export * from './clock.ts';
export * from './errors.ts';
