/**
 * Background work on graphile-worker (a PostgreSQL-backed job queue): active queries of unknown
 * attempts, expiry of unpaid intents and of uncaptured authorizations, idempotency-key pruning.
 * A `sweep` job re-schedules itself every few seconds under one job key, so any number of worker
 * processes share it; a crontab entry restarts the chain if it ever breaks.
 */
import { run, makeWorkerUtils, Logger as WorkerLogger, type JobHelpers, type Runner, type Task, type WorkerUtils, type TaskList } from 'graphile-worker';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Executor } from '../db/index.ts';
import { attemptsDueForSync, attemptsStuckInFlight, lateSuccessesToRefund, refundsPending } from '../payments/index.ts';
import {
  expireAuthorizations,
  expirePaymentIntents,
  recoverPendingRefund,
  recoverStuckCancel,
  recoverStuckCapture,
  syncAttempt,
  deliverWebhook,
  requeueOverdueDeliveries,
  processChannelNotification,
  refundLateSuccess,
  unprocessedNotifications,
  type JobSpec,
  type Services,
} from '../flows/index.ts';
import { pruneIdempotencyKeys } from '../idempotency/index.ts';

const sweepIntervalSeconds = 5;
/** A capture, cancel or refund not booked this long after it was sent is asked about again. */
const inFlightRecoveryAfterSeconds = 60;

/** graphile-worker's log lines go through pino like everything else (JSON, redacted, leveled). */
export function workerLogger(logger: Logger): WorkerLogger {
  const jobs = logger.child({ component: 'jobs' });
  return new WorkerLogger((scope) => (level, message, meta) => {
    const fields = { ...scope, ...meta };
    // Successful job completions are routine; keep them out of info.
    if (level === 'error') jobs.error(fields, message);
    else if (level === 'warning') jobs.warn(fields, message);
    else jobs.debug(fields, message);
  });
}

/**
 * graphile-worker stores a failed job's error as JSON; Fenpay's errors can carry objects with bigint
 * amounts, which JSON cannot hold. Tasks fail with a plain Error that keeps the message and name.
 */
function plainErrors(tasks: Record<string, Task>): TaskList {
  return Object.fromEntries(
    Object.entries(tasks).map(([name, task]) => [
      name,
      async (payload: unknown, helpers: JobHelpers) => {
        try {
          await task(payload, helpers);
        } catch (error) {
          if (error instanceof Error) throw Object.assign(new Error(`${error.name}: ${error.message}`), { stack: error.stack });
          throw error;
        }
      },
    ]),
  );
}

export function createTasks(services: Services): TaskList {
  return plainErrors({
    sync_attempt: async (payload) => {
      const { attemptId } = payload as { attemptId: string };
      await syncAttempt(services, attemptId);
    },
    deliver_webhook: async (payload) => {
      const { deliveryId, manual } = payload as { deliveryId: string; manual?: boolean };
      await deliverWebhook(services, deliveryId, { manual: manual === true });
    },
    process_channel_notification: async (payload) => {
      const { id } = payload as { id: string };
      await processChannelNotification(services, id);
    },
    sweep: async (_payload, helpers) => {
      const now = services.now();
      for (const attempt of await attemptsDueForSync(services.db, { now, limit: 500 })) {
        await helpers.addJob('sync_attempt', { attemptId: attempt.id }, { jobKey: `sync:${attempt.id}`, maxAttempts: 3 });
      }
      const stuckBefore = new Date(now.getTime() - inFlightRecoveryAfterSeconds * 1000);
      for (const attempt of await attemptsStuckInFlight(services.db, { updatedBefore: stuckBefore, limit: 100 })) {
        await bestEffort(services, { attempt: attempt.id }, () => (attempt.status === 'capturing' ? recoverStuckCapture(services, attempt.id) : recoverStuckCancel(services, attempt.id)));
      }
      for (const refund of await refundsPending(services.db, { createdBefore: stuckBefore, limit: 100 })) {
        await bestEffort(services, { refund: refund.id }, () => recoverPendingRefund(services, refund.id));
      }
      await bestEffort(services, { job: 'requeue_webhooks' }, () => requeueOverdueDeliveries(services, { limit: 500 }));
      for (const attempt of await lateSuccessesToRefund(services.db, { limit: 50 })) {
        await bestEffort(services, { attempt: attempt.id }, () => refundLateSuccess(services, attempt.id));
      }
      for (const id of await unprocessedNotifications(services, { receivedBefore: stuckBefore, limit: 100 })) {
        await bestEffort(services, { notification: id }, () => processChannelNotification(services, id));
      }
      await expirePaymentIntents(services, { limit: 200 });
      await expireAuthorizations(services, { limit: 200 });
      await pruneIdempotencyKeys(services.db, { ttlHours: services.config.idempotencyTtlHours, now });
      await helpers.addJob('sweep', {}, { jobKey: 'sweep', jobKeyMode: 'replace', runAt: new Date(Date.now() + sweepIntervalSeconds * 1000) });
    },
  });
}

/** One stuck object must not stop the sweep of the others; it is logged and tried next time. */
async function bestEffort(services: Services, fields: Record<string, string>, work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (err) {
    services.logger.warn({ ...fields, err }, 'recovery attempt failed; will retry on the next sweep');
  }
}

/**
 * Adds jobs through graphile-worker's SQL API inside the caller's transaction, so a job exists exactly
 * when the rows it works on were committed.
 */
export async function enqueueInTransaction(executor: Executor, jobs: readonly JobSpec[]): Promise<void> {
  if (jobs.length === 0) return;
  const specs = jobs.map((job) => ({
    identifier: job.task,
    payload: job.payload,
    run_at: job.runAt?.toISOString() ?? null,
    max_attempts: 5,
    job_key: job.jobKey ?? null,
  }));
  await sql`SELECT count(*) FROM graphile_worker.add_jobs((SELECT array_agg(s) FROM json_populate_recordset(NULL::graphile_worker.job_spec, ${JSON.stringify(specs)}::json) s))`.execute(executor);
}

export interface JobQueue {
  scheduleSync(attemptId: string, runAt: Date): void;
  stop(): Promise<void>;
}

/** The API side: enqueue only. */
export async function connectJobQueue(options: { connectionString: string; logger: Logger }): Promise<JobQueue & { utils: WorkerUtils }> {
  const utils = await makeWorkerUtils({ connectionString: options.connectionString, logger: workerLogger(options.logger) });
  await utils.migrate();
  return {
    utils,
    scheduleSync(attemptId, runAt) {
      utils
        .addJob('sync_attempt', { attemptId }, { jobKey: `sync:${attemptId}`, runAt, maxAttempts: 3 })
        .catch((err: unknown) => options.logger.warn({ err, attempt: attemptId }, 'could not schedule a sync; the sweeper will find the attempt'));
    },
    async stop() {
      await utils.release();
    },
  };
}

/** The worker side: run tasks. */
export async function startWorker(options: { connectionString: string; services: Services; concurrency: number }): Promise<Runner> {
  const runner = await run({
    logger: workerLogger(options.services.logger),
    connectionString: options.connectionString,
    concurrency: options.concurrency,
    noHandleSignals: true,
    pollInterval: 1000,
    taskList: createTasks(options.services),
    crontab: '* * * * * sweep ?jobKey=sweep&jobKeyMode=preserve_run_at',
  });
  await runner.addJob('sweep', {}, { jobKey: 'sweep', jobKeyMode: 'replace' });
  return runner;
}
