import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../shared/errors.js';
import {
  COORDINATOR_ENV,
  DEFAULT_COORDINATOR_SETTINGS,
  DEFAULT_DISPATCHER_SETTINGS,
  DISPATCHER_ENV,
  assertProcessorName,
  resolveCoordinatorSettings,
  resolveDispatcherSettings,
  settingsFromEnv,
  settingsToEnv,
  topicsProblem,
} from '../../shared/settings.js';

describe('settings', () => {
  it('round-trips dispatcher settings through the environment the construct writes', () => {
    const settings = resolveDispatcherSettings({ leaseMs: 45_000, drainWaitMs: 200_000 });
    const env = settingsToEnv(DISPATCHER_ENV, settings);
    expect(env.TIDEMARK_LEASE_MS).toBe('45000');
    expect(resolveDispatcherSettings(settingsFromEnv(DISPATCHER_ENV, {}, env))).toEqual(settings);
  });

  it('lets options given in code win over the environment', () => {
    const env = { TIDEMARK_LEASE_MS: '40000' };
    expect(settingsFromEnv(DISPATCHER_ENV, { leaseMs: 50_000 }, env).leaseMs).toBe(50_000);
    expect(settingsFromEnv(DISPATCHER_ENV, {}, env).leaseMs).toBe(40_000);
  });

  it('names the variable that is not a number', () => {
    expect(() => settingsFromEnv(COORDINATOR_ENV, {}, { TIDEMARK_DRAIN_TIMEOUT_MS: 'soon' })).toThrow(
      /TIDEMARK_DRAIN_TIMEOUT_MS must be a number, got "soon"/,
    );
  });

  it('keeps the coordinator on the dispatchers’ layout bound and variable', () => {
    expect(DEFAULT_COORDINATOR_SETTINGS.layoutTtlMs).toBe(DEFAULT_DISPATCHER_SETTINGS.layoutTtlMs);
    expect(COORDINATOR_ENV.layoutTtlMs).toBe(DISPATCHER_ENV.layoutTtlMs);
    expect(() => resolveCoordinatorSettings({ pollSeconds: 0 })).toThrow(ConfigurationError);
  });

  it('describes bad topic lists and rejects bad processor names', () => {
    expect(topicsProblem([])).toBe('one or more Kafka topic names');
    expect(topicsProblem(['orders', 'bad topic'])).toMatch(/"bad topic"/);
    expect(topicsProblem(['a', 'a'])).toBe('each topic once');
    expect(topicsProblem(['orders', 'payments'])).toBeUndefined();
    expect(() => assertProcessorName('has space')).toThrow(/"has space" is not allowed/);
  });
});
