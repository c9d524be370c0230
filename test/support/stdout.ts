import { vi } from 'vitest';

/**
 * What a test printed to stdout and stderr, line by line, as Powertools prints it (its own Console on
 * process.stdout and process.stderr: warnings and errors go to stderr; Lambda sends both to CloudWatch).
 */
export interface CapturedStdout {
  readonly lines: string[];
  /** The lines that parse as JSON objects. */
  json(): Array<Record<string, unknown>>;
  /** The CloudWatch EMF lines. */
  emf(): EmfLine[];
}

/** One EMF line: its dimension sets and metric names, and the values by key. */
export type EmfLine = Record<string, unknown> & {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: ReadonlyArray<{
      readonly Namespace: string;
      readonly Dimensions: string[][];
      readonly Metrics: ReadonlyArray<{ Name: string; Unit: string }>;
    }>;
  };
};

/** Captures process.stdout and process.stderr until the test's mocks are restored (`vi.restoreAllMocks()`). */
export function captureStdout(): CapturedStdout {
  const lines: string[] = [];
  const capture = (chunk: string | Uint8Array) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    lines.push(...text.split('\n').filter((line) => line !== ''));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  const json = () =>
    lines.flatMap((line) => {
      try {
        const parsed = JSON.parse(line) as unknown;
        return typeof parsed === 'object' && parsed !== null ? [parsed as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    });
  return { lines, json, emf: () => json().filter((line): line is EmfLine => '_aws' in line) };
}
