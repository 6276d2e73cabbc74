export { connectDatabase, type Db, type Tx, type Executor, type DatabaseHandle } from './connection.ts';
export { startEmbeddedPostgres, freePort, type EmbeddedDatabase } from './embedded.ts';
export { migrateToLatest } from './migrate.ts';
export {
  WriteBatcher,
  ledgerBucketCount,
  type WriteSet,
  type WriteResult,
  type WriteRejection,
  type Guard,
  type Claim,
  type RowUpdate,
  type BalanceDelta,
  type TableName,
  type Row,
} from './write-batcher.ts';
export type * from './schema.ts';
export { paginate, type Cursor } from './pagination.ts';
