/** A broken invariant is a bug: it throws, the request fails with 500, nobody turns it into a business outcome. */
export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertNever(value: never, message = 'unexpected value'): never {
  throw new AssertionError(`${message}: ${String(value)}`);
}
