import { ConfigurationError } from '../shared/errors.js';

/** A TrackingProcessor setting is invalid. The message names the setting, what was given and what is allowed. */
export class TrackingProcessorConfigError extends ConfigurationError {
  constructor(
    readonly setting: string,
    readonly given: unknown,
    readonly allowed: string,
  ) {
    super(`TrackingProcessor ${setting}: got ${describeValue(given)}; allowed: ${allowed}`, {
      context: { setting, given: describeValue(given), allowed },
    });
  }
}

/** A value as an error message shows it. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'nothing';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
