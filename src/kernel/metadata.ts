import { AppError } from './errors.ts';

/** Stripe's metadata rules: at most 50 keys, keys up to 40 characters, values up to 500. */
export const metadataKeysMax = 50;
export const metadataKeyLengthMax = 40;
export const metadataValueLengthMax = 500;

/** A metadata patch: a value of '' deletes that key; `null` (metadata='') clears everything. */
export type MetadataPatch = Readonly<Record<string, string>> | null;

export function parseMetadata(value: unknown, param = 'metadata'): MetadataPatch | undefined {
  if (value === undefined) return undefined;
  if (value === '' || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw new AppError('metadata_invalid', { param, message: 'Invalid metadata: must be a hash of string keys and string values.' });
  const out: Record<string, string> = {};
  for (const [key, raw] of Object.entries(value as Record<string, unknown>)) {
    if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
      throw new AppError('metadata_invalid', { param: `${param}[${key}]`, message: `Invalid value for metadata key '${key}': must be a string.` });
    }
    if (key.length === 0 || key.length > metadataKeyLengthMax) throw new AppError('metadata_invalid', { param: `${param}[${key}]`, message: `Metadata keys must be 1 to ${metadataKeyLengthMax} characters.` });
    const text = String(raw);
    if (text.length > metadataValueLengthMax) throw new AppError('metadata_invalid', { param: `${param}[${key}]`, message: `Metadata values can be at most ${metadataValueLengthMax} characters.` });
    out[key] = text;
  }
  if (Object.keys(out).length > metadataKeysMax) throw new AppError('metadata_invalid', { param, message: `Metadata can have at most ${metadataKeysMax} keys.` });
  return out;
}

export function applyMetadata(existing: Readonly<Record<string, string>>, patch: MetadataPatch | undefined): Record<string, string> {
  if (patch === undefined) return { ...existing };
  if (patch === null) return {};
  const next: Record<string, string> = { ...existing };
  for (const [key, value] of Object.entries(patch)) {
    if (value === '') delete next[key];
    else next[key] = value;
  }
  if (Object.keys(next).length > metadataKeysMax) throw new AppError('metadata_invalid', { param: 'metadata', message: `Metadata can have at most ${metadataKeysMax} keys.` });
  return next;
}
