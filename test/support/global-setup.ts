/**
 * One PostgreSQL server for the whole run: DATABASE_URL's server when set, otherwise an embedded
 * PostgreSQL in a temporary folder. Every test file then makes its own fresh database on it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/index.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

let embedded: EmbeddedDatabase | undefined;
let dir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  const configured = process.env.DATABASE_URL;
  if (configured) {
    const url = new URL(configured);
    url.pathname = '/postgres';
    project.provide('pgAdminUrl', url.toString());
    return;
  }
  dir = mkdtempSync(path.join(os.tmpdir(), 'fenpay-test-pg-'));
  embedded = await startEmbeddedPostgres({ dataDir: dir, port: 0, database: 'postgres', persistent: false });
  project.provide('pgAdminUrl', embedded.url);
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
