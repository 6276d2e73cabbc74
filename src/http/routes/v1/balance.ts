/** /v1/balance and /v1/balance_transactions — read from the ledger. */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../../kernel/index.ts';
import type { Services } from '../../../flows/index.ts';
import { getBalanceTransaction, getMerchantBalances, listBalanceTransactions, serializeBalance } from '../../../ledger/index.ts';
import { getMerchant } from '../../../merchants/index.ts';
import { idParam, listQuerySchema, listResponse, parseCurrency, parseListParams, type ListQuery } from '../../params.ts';
import { tenantOf } from './payment-intents.ts';

const tags = ['Balance'];

export async function balanceRoutes(app: FastifyInstance, options: { services: Services }): Promise<void> {
  const { services } = options;

  app.get('/balance', { schema: { tags, summary: 'Retrieve the balance (derived from ledger transfers)' } }, async (request) => {
    const tenant = tenantOf(request.principal);
    const merchant = await getMerchant(services.db, tenant.merchantId);
    return serializeBalance(tenant, await getMerchantBalances(services.db, tenant), merchant?.defaultCurrency ?? 'usd');
  });

  app.get<{ Params: { id: string } }>('/balance_transactions/:id', { schema: { tags, summary: 'Retrieve a BalanceTransaction', params: idParam } }, async (request) => {
    const row = await getBalanceTransaction(services.db, tenantOf(request.principal), request.params.id);
    if (!row) throw new AppError('resource_missing', { param: 'id', message: `No such balance transaction: '${request.params.id}'` });
    return row;
  });

  app.get<{ Querystring: ListQuery & { source?: string; type?: string; currency?: string; payout?: string } }>(
    '/balance_transactions',
    {
      schema: {
        tags,
        summary: 'List BalanceTransactions',
        querystring: { type: 'object', additionalProperties: false, properties: { ...listQuerySchema, source: { type: 'string', maxLength: 128 }, type: { type: 'string', enum: ['charge', 'refund'] }, currency: { type: 'string', maxLength: 3 } } },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await listBalanceTransactions(services.db, tenantOf(request.principal), { ...parseListParams(q), source: q.source, type: q.type, currency: parseCurrency(q.currency) });
      return listResponse('/v1/balance_transactions', page.data, page.hasMore);
    },
  );
}
