/** The sandbox acquirer's own tables (migration 0003_sandbox_card_acquirer.sql), as Kysely sees them. */
import type { ColumnType } from 'kysely';

type Defaulted<T> = ColumnType<T, T | undefined, T>;

export type SandboxOrderStatus = 'challenge_pending' | 'authorized' | 'captured' | 'declined' | 'voided';

export interface SandboxCardOrdersTable {
  order_no: string;
  reference: string;
  status: SandboxOrderStatus;
  decline_reason: string | null;
  after_challenge: 'approve' | 'decline' | null;
  capture_mode: 'automatic' | 'manual';
  amount: bigint;
  currency: string;
  amount_captured: Defaulted<bigint>;
  amount_refunded: Defaulted<bigint>;
  card_brand: string | null;
  card_last4: string | null;
  return_url: string | null;
  settles_at: Date | null;
  challenge_completed_at: Date | null;
  created_at: Defaulted<Date>;
  updated_at: Defaulted<Date>;
}

export interface SandboxCardOperationsTable {
  reference: string;
  order_no: string;
  kind: 'capture' | 'void' | 'refund';
  request_no: string;
  amount: bigint;
  created_at: Defaulted<Date>;
}

// A type alias, not an interface: Kysely's withTables wants a Record-compatible shape.
export type SandboxCardTables = {
  sandbox_card_orders: SandboxCardOrdersTable;
  sandbox_card_operations: SandboxCardOperationsTable;
};
