import { TidemarkError } from '../errors.js';

/** What an admin API answer's `error.code` can be. */
export type AdminErrorCode =
  'BadRequest' | 'UnknownProcessor' | 'NotFound' | 'Conflict' | 'MethodNotAllowed' | 'Forbidden' | 'Unavailable';

const STATUS: Record<AdminErrorCode, number> = {
  BadRequest: 400,
  Forbidden: 403,
  UnknownProcessor: 404,
  NotFound: 404,
  MethodNotAllowed: 405,
  Conflict: 409,
  Unavailable: 503,
};

/** A request the admin API refuses, with the HTTP status and a message saying what was wrong and what is allowed. */
export class AdminRequestError extends TidemarkError {
  readonly status: number;

  constructor(
    readonly code: AdminErrorCode,
    message: string,
    options: { cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, { ...options, retriable: code === 'Unavailable' || code === 'Conflict' });
    this.status = STATUS[code];
  }
}
