/**
 * Alipay speaks Beijing time (UTC+8, no daylight saving) in every timestamp: `gmt_payment`,
 * `time_expire`, `notify_time`, the bill's dates. These helpers format and parse it without
 * depending on the host's time zone.
 */
const beijingOffsetMs = 8 * 60 * 60 * 1000;

function pad(value: number, width = 2): string {
  return value.toString().padStart(width, '0');
}

function shifted(date: Date): Date {
  return new Date(date.getTime() + beijingOffsetMs);
}

/** "2024-01-31 23:59:59" in Beijing time. */
export function beijingDateTime(date: Date): string {
  const d = shifted(date);
  return `${beijingDate(date)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** "2024-01-31" in Beijing time. */
export function beijingDate(date: Date): string {
  const d = shifted(date);
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** "2024年01月31日 23:59:59" as the bill file writes it. */
export function beijingBillDateTime(date: Date): string {
  const d = shifted(date);
  return `${pad(d.getUTCFullYear(), 4)}年${pad(d.getUTCMonth() + 1)}月${pad(d.getUTCDate())}日 ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

const dateTimePattern = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/;
const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Parses "yyyy-MM-dd HH:mm:ss" as Beijing time; anything else (including 2024-02-30) is undefined. */
export function parseBeijingDateTime(text: string): Date | undefined {
  const match = dateTimePattern.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  const date = new Date(utc - beijingOffsetMs);
  return beijingDateTime(date) === text ? date : undefined;
}

/** The instant a Beijing calendar day ("yyyy-MM-dd") starts, or undefined for a date that does not exist. */
export function beijingDayStart(text: string): Date | undefined {
  const match = datePattern.exec(text);
  if (!match) return undefined;
  return parseBeijingDateTime(`${text} 00:00:00`);
}
