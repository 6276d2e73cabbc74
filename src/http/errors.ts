/** Maps every failure to Stripe's error shape. Only the catalogue sets statuses; a bug is a generic 500. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode } from '../kernel/index.ts';

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** `/metadata/order` → `metadata[order]` (Stripe names nested params with brackets). */
export function bracketPath(instancePath: string, leaf?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  if (leaf !== undefined) parts.push(leaf);
  if (parts.length === 0) return '';
  const [first, ...rest] = parts;
  return `${first}${rest.map((p) => `[${p}]`).join('')}`;
}

export function validationToAppError(errors: readonly AjvError[]): AppError {
  // anyOf failures report each branch; the most specific one is the first non-anyOf error.
  const error = errors.find((e) => e.keyword !== 'anyOf') ?? errors[0];
  if (!error) return new AppError('parameter_invalid');
  switch (error.keyword) {
    case 'required': {
      const param = bracketPath(error.instancePath, String(error.params.missingProperty));
      return new AppError('parameter_missing', { param, message: `Missing required param: ${param}.` });
    }
    case 'additionalProperties': {
      const param = bracketPath(error.instancePath, String(error.params.additionalProperty));
      return new AppError('parameter_unknown', { param, message: `Received unknown parameter: ${param}` });
    }
    case 'type': {
      const param = bracketPath(error.instancePath);
      const integer = String(error.params.type).includes('integer');
      return new AppError(integer ? 'parameter_invalid_integer' : 'parameter_invalid', {
        param,
        message: integer ? `Invalid integer for ${param}: must be a whole number.` : `Invalid ${param}: must be of type ${String(error.params.type)}.`,
      });
    }
    case 'enum': {
      const param = bracketPath(error.instancePath);
      const allowed = (error.params.allowedValues as unknown[] | undefined)?.join(', ') ?? '';
      return new AppError('parameter_invalid', { param, message: `Invalid ${param}: must be one of ${allowed}.` });
    }
    default: {
      const param = bracketPath(error.instancePath);
      return new AppError('parameter_invalid', { param, message: `Invalid ${param || 'request'}: ${error.message ?? 'invalid value'}.` });
    }
  }
}

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'body_malformed',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'body_malformed',
  FST_ERR_CTP_EMPTY_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
};

export function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  const e = error as FastifyError & { validation?: AjvError[] };
  if (e && Array.isArray(e.validation)) return validationToAppError(e.validation);
  if (e && typeof e.code === 'string') {
    const code = fastifyCodes[e.code];
    if (code) return new AppError(code);
  }
  if (e instanceof SyntaxError || (e && e.statusCode === 400 && /JSON/i.test(String(e.message)))) {
    return new AppError('body_malformed', { message: 'Invalid request body: could not be parsed.' });
  }
  if (e && e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) {
    return new AppError('parameter_invalid', { message: 'Invalid request.' });
  }
  return undefined;
}

export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const appError = toAppError(error);
  if (appError) {
    void reply.code(appError.status).send(appError.toPublic(request.id));
    return;
  }
  request.log.error({ err: error }, 'unhandled error');
  const generic = new AppError('api_error', { message: 'An unexpected error occurred. It has been logged; the request id identifies it.' });
  void reply.code(500).header('Stripe-Should-Retry', 'false').send(generic.toPublic(request.id));
}
