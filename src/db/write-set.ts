/** What a request asks the write batcher to write, and what it answers (see write-batcher.ts). */
import type { Database } from './schema.ts';

export type TableName = keyof Database;
export type Row = Record<string, unknown>;

export interface Guard {
  readonly table: TableName;
  readonly id: string;
  /** The version the caller read; the unit applies only if the row still has it. */
  readonly version: number;
}

export interface Claim {
  readonly table: TableName;
  readonly row: Row;
  readonly conflictColumns: readonly string[];
}

export interface RowUpdate {
  readonly table: TableName;
  readonly key: Row;
  readonly set: Row;
}

export interface BalanceDelta {
  readonly accountId: string;
  /** The account's merchant (null for platform accounts), carried onto its bucket rows. */
  readonly merchantId: string | null;
  readonly debitsPending: bigint;
  readonly debitsPosted: bigint;
  readonly creditsPending: bigint;
  readonly creditsPosted: bigint;
  /** The account may not end with posted plus pending debits above posted credits. */
  readonly nonNegative: boolean;
}

export interface WriteSet {
  readonly guards?: readonly Guard[];
  readonly claims?: readonly Claim[];
  readonly insertsIfAbsent?: readonly Claim[];
  readonly inserts?: readonly { readonly table: TableName; readonly row: Row }[];
  readonly updates?: readonly RowUpdate[];
  readonly balanceDeltas?: readonly BalanceDelta[];
}

export type WriteRejection =
  | { readonly ok: false; readonly reason: 'claim_taken' }
  | { readonly ok: false; readonly reason: 'version_conflict'; readonly table: TableName; readonly id: string }
  | { readonly ok: false; readonly reason: 'balance_insufficient'; readonly accountId: string };
export type WriteResult = { readonly ok: true } | WriteRejection;
