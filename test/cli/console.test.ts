import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { DynamoDbTokenStore } from '../../shared/tokens/dynamodb-token-store.js';
import { freshTokenTable, localDynamoDb } from '../support/dynamodb.js';
import { runCli } from '../support/cli.js';
import { inject } from 'vitest';

const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

/**
 * What a function URL with AWS_IAM auth does, for a test: recompute the SigV4 signature over the headers the request
 * says it signed, with the caller's secret, and refuse (403) a request without one or with a wrong one.
 */
async function functionUrlDouble(secret = CREDENTIALS.secretAccessKey) {
  const seen: Array<{ method: string; path: string; body: string; principal: string }> = [];
  const verifier = new SignatureV4({
    service: 'lambda',
    region: 'eu-west-1',
    credentials: { ...CREDENTIALS, secretAccessKey: secret },
    sha256: Sha256,
  });
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const authorization = String(req.headers.authorization ?? '');
        const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
        const amzDate = String(req.headers['x-amz-date'] ?? '');
        const url = new URL(req.url ?? '/', 'http://localhost');
        const headers = Object.fromEntries(
          signedHeaders.filter((h) => h !== 'x-amz-date').map((h) => [h, String(req.headers[h])]),
        );
        const date = new Date(
          `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
        );
        const expected = authorization
          ? await verifier.sign(
              {
                method: req.method!,
                protocol: 'http:',
                hostname: '127.0.0.1',
                path: url.pathname,
                query: Object.fromEntries(url.searchParams),
                headers,
                ...(body ? { body } : {}),
              },
              { signingDate: date },
            )
          : undefined;
        if (!expected || expected.headers.authorization !== authorization) {
          res.writeHead(403, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ Message: 'Forbidden' }));
          return;
        }
        seen.push({ method: req.method!, path: url.pathname, body, principal: 'arn:aws:iam::123456789012:user/alice' });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, path: url.pathname, body }));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, seen, close: () => new Promise((r) => server.close(r)) };
}

/** Runs `tidemark console …` until `use` is done with the page's URL. */
async function withConsole(
  args: string[],
  use: (url: string) => Promise<void>,
  options: { env?: NodeJS.ProcessEnv; credentials?: typeof CREDENTIALS } = {},
): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  let stop = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let used: Promise<void> = Promise.resolve();
  const out = (line: string) => {
    lines.push(line);
    const match = /Status page: (http:\/\/[^/]+)\//.exec(line);
    if (match) used = use(match[1]!).finally(stop);
  };
  const code = await main(['console', ...args], options.env ?? {}, out, {
    err: (line) => lines.push(line),
    credentials: () => Promise.resolve(options.credentials ?? CREDENTIALS),
    untilStopped: () => stopped,
  });
  await used;
  return { code, lines };
}

describe('tidemark console', () => {
  it('forwards the page and the API to the function URL, signed with SigV4 with the caller’s credentials', async () => {
    const fn = await functionUrlDouble();
    const { code, lines } = await withConsole(
      ['--url', fn.url, '--region', 'eu-west-1', '--port', '0'],
      async (base) => {
        const page = await fetch(`${base}/api/processors/orders/status`);
        expect(page.status).toBe(200);
        const split = await fetch(`${base}/api/processors/orders/split`, {
          method: 'POST',
          body: JSON.stringify({ segment: '0/1' }),
          headers: { 'content-type': 'application/json' },
        });
        expect(await split.json()).toEqual({
          ok: true,
          path: '/api/processors/orders/split',
          body: '{"segment":"0/1"}',
        });
      },
    );
    expect(code).toBe(0);
    expect(lines.join('\n')).toContain('signed with SigV4 for eu-west-1');
    expect(fn.seen.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /api/processors/orders/status',
      'POST /api/processors/orders/split',
    ]);
    await fn.close();
  });

  it('passes the function URL’s refusal through when the signature is not the caller’s', async () => {
    const fn = await functionUrlDouble('another-secret');
    await withConsole(['--url', fn.url, '--region', 'eu-west-1', '--port', '0'], async (base) => {
      expect((await fetch(`${base}/api/processors`)).status).toBe(403);
    });
    expect(fn.seen).toEqual([]);
    await fn.close();
  });

  it('serves the admin API itself from a local table with --endpoint', async () => {
    const tableName = await freshTokenTable();
    await new DynamoDbTokenStore({ tableName, client: localDynamoDb() }).initialise('orders-view', 2);
    const endpoint = inject('dynamoDbEndpoint');
    const { code } = await withConsole(
      ['orders-view', '--endpoint', endpoint, '--table', tableName, '--topics', 'orders', '--port', '0'],
      async (base) => {
        const status = (await (await fetch(`${base}/api/processors/orders-view/status`)).json()) as {
          layout: { segments: unknown[] };
        };
        expect(status.layout.segments).toHaveLength(2);
        const page = await fetch(`${base}/`);
        expect(page.headers.get('content-type')).toContain('text/html');
        expect(await page.text()).toContain('Tidemark');
      },
    );
    expect(code).toBe(0);
  });

  it.each([
    [['--url', 'http://example.com/'], '--url must be https'],
    [['--url', 'not a url'], 'is not a URL'],
    [['--url', 'https://abc.example.com/'], 'does not name a region'],
    [['--url', 'https://abc.lambda-url.eu-west-1.on.aws/', '--port', '70000'], '--port'],
    [['--url', 'https://abc.lambda-url.eu-west-1.on.aws/', '--endpoint', 'http://localhost:8000'], 'not both'],
    [[], 'give --url'],
    [['--endpoint', 'http://localhost:8000', '--table', 't'], 'missing <processor>'],
    [['orders', '--endpoint', 'http://localhost:8000', '--table', 'tokens', '--topics', 'a b'], '--topics'],
    [
      ['orders', '--endpoint', 'http://localhost:8000', '--table', 'tokens', '--topics', 'a', '--brokers', 'kafka'],
      '--brokers',
    ],
  ])('refuses %j with exit code 2, naming what is wrong', async (args, message) => {
    const run = await runCli(['console', ...args]);
    expect(run.code).toBe(2);
    expect(run.first).toContain(message);
    expect(run.errors).toContain('Usage: tidemark console');
  });
});
