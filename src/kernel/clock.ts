/** Unix seconds, as Stripe's `created` fields use. */
export function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}
