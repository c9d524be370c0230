import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError } from '../../../shared/errors.js';
import { createLogger, logLevelFromEnv, silentLogger, withLogKeys } from '../../../shared/observability/logger.js';
import { captureStdout } from '../../support/stdout.js';

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('the default logger', () => {
  it("prints Powertools' JSON lines with the processor as service and key, the call's fields and errors in full", () => {
    const output = captureStdout();
    const logger = createLogger({ processor: 'orders-view' }, {});

    logger.info('batch processed', { layoutVersion: 3, partitions: [{ topicPartition: 'orders-0' }] });
    logger.error('checkpoint failed', { error: new RangeError('too far'), topicPartition: 'orders-1' });

    const [info, error] = output.json();
    expect(info).toMatchObject({
      level: 'INFO',
      message: 'batch processed',
      service: 'orders-view',
      processor: 'orders-view',
      layoutVersion: 3,
      partitions: [{ topicPartition: 'orders-0' }],
    });
    expect(typeof info!.timestamp).toBe('string');
    expect(error).toMatchObject({
      level: 'ERROR',
      message: 'checkpoint failed',
      topicPartition: 'orders-1',
      error: { name: 'RangeError', message: 'too far' },
    });
    expect((error!.error as { stack?: string }).stack).toMatch(/RangeError: too far/);
  });

  it('logs at the level TIDEMARK_LOG_LEVEL names, and at info without one', () => {
    const output = captureStdout();

    createLogger({ processor: 'p' }, { TIDEMARK_LOG_LEVEL: 'warn' }).info('dropped');
    createLogger({ processor: 'p' }, { TIDEMARK_LOG_LEVEL: 'DEBUG' }).debug('kept at debug');
    createLogger({ processor: 'p' }, {}).debug('dropped at info');
    createLogger({ processor: 'p' }, {}).info('kept at info');

    expect(output.json().map((line) => line.message)).toEqual(['kept at debug', 'kept at info']);
  });

  it("falls back to Powertools' own POWERTOOLS_LOG_LEVEL", () => {
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'ERROR');
    const output = captureStdout();

    const logger = createLogger({ processor: 'p' }, {});
    logger.warn('dropped');
    logger.error('kept');

    expect(output.json().map((line) => line.message)).toEqual(['kept']);
  });

  it('refuses a TIDEMARK_LOG_LEVEL it does not know, naming the variable and the levels', () => {
    expect(() => logLevelFromEnv({ TIDEMARK_LOG_LEVEL: 'loud' })).toThrow(ConfigurationError);
    expect(() => createLogger({}, { TIDEMARK_LOG_LEVEL: 'loud' })).toThrow(
      'TIDEMARK_LOG_LEVEL must be one of debug, info, warn, error, got "loud"',
    );
  });
});

describe('withLogKeys', () => {
  it("adds the keys to every line, a call's own fields winning", () => {
    const lines: Array<[string, Record<string, unknown> | undefined]> = [];
    const sink = {
      debug: (m: string, f?: Record<string, unknown>) => void lines.push([m, f]),
      info: (m: string, f?: Record<string, unknown>) => void lines.push([m, f]),
      warn: (m: string, f?: Record<string, unknown>) => void lines.push([m, f]),
      error: (m: string, f?: Record<string, unknown>) => void lines.push([m, f]),
    };

    const logger = withLogKeys(sink, { segment: '0/1', offset: 7 });
    logger.info('projected', { offset: 8, order: 'o-1' });
    logger.error('failed');

    expect(lines).toEqual([
      ['projected', { segment: '0/1', offset: 8, order: 'o-1' }],
      ['failed', { segment: '0/1', offset: 7 }],
    ]);
    expect(withLogKeys(silentLogger, { segment: '0/1' })).toBe(silentLogger);
  });
});
