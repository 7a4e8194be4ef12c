import type { FastifyRequest } from 'fastify';

/** Where an operator action is logged: the admin request's logger, so the line carries its request id. */
export interface AdminActionLog {
  warn(message: string): void;
}

/** The request's own logger (its lines carry the request id), under the `Admin` context. */
export function adminLog(req: FastifyRequest): AdminActionLog {
  return { warn: (message) => req.log.warn({ context: 'Admin' }, message) };
}
