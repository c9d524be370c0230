/**
 * `tidemark console`: the status page on localhost. Against AWS it forwards every request to the processor's admin
 * function URL signed with SigV4 (the caller's own IAM credentials: no other login); against a local DynamoDB it
 * serves the admin API itself, with the commands run in this process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import { startAdminServer } from '../shared/admin/admin-server.js';
import { createKafkaAdmin } from '../shared/kafka/kafkajs-admin.js';
import { DynamoDbTokenStore } from '../shared/tokens/dynamodb-token-store.js';
import { TOPIC_NAME } from '../shared/settings.js';
import {
  positionalArgs,
  processorArg,
  regionArg,
  TABLE_OPTIONS,
  TABLE_OPTIONS_HELP,
  tableTarget,
  UsageError,
  wholeNumber,
  type OptionSpec,
} from './args.js';
import { dynamoDbClient, type CliContext, type CredentialsProvider } from './context.js';

export const CONSOLE_OPTIONS = {
  ...TABLE_OPTIONS,
  url: { type: 'string' },
  port: { type: 'string' },
  brokers: { type: 'string' },
  topics: { type: 'string' },
} as const satisfies OptionSpec;

export const CONSOLE_USAGE = `Usage: tidemark console --url <admin function URL> [--port <n>]
       tidemark console <processor> --endpoint <url> [--table <name>] [--brokers <host:port,…>] [--topics <a,b>]

Serves the status page on http://127.0.0.1:<port>/ until Ctrl-C.
With --url, every request goes to the processor's admin function URL signed with SigV4 with your AWS credentials (the
SDK's chain: profile, SSO, environment): your principal needs lambda:InvokeFunctionUrl on the admin function, and the
audit items name it. With --endpoint (the local stack's DynamoDB), the console serves the admin API itself from the
token table and runs split, merge and scale in this process.

Options:
  --url <url>               the admin function URL (the construct's admin.url; default: $TIDEMARK_ADMIN_URL)
  --port <n>                the local port, 0 to 65535 (default 8080; 0 picks a free one)
  --brokers <host:port,…>   with --endpoint: the Kafka cluster, for lag in records
  --topics <a,b>            with --endpoint: the processor's topics (default: those its token table has seen)
${TABLE_OPTIONS_HELP}`;

/** Runs the console until `deps.untilStopped` (default: Ctrl-C) resolves. */
export async function runConsole(
  values: Record<string, string | boolean | undefined>,
  positionals: string[],
  context: CliContext,
): Promise<number> {
  const { env, out } = context;
  const port = wholeNumber((values.port as string | undefined) ?? '8080', '--port', CONSOLE_USAGE, 0, 65_535);
  const url = (values.url as string | undefined) ?? (values.endpoint ? undefined : env.TIDEMARK_ADMIN_URL);
  if (url !== undefined && values.endpoint !== undefined) {
    throw new UsageError('give --url (AWS) or --endpoint (a local DynamoDB), not both', CONSOLE_USAGE);
  }
  let close: () => Promise<void>;
  let address: string;
  if (url !== undefined) {
    positionalArgs(positionals, [], CONSOLE_USAGE);
    const target = adminUrl(url);
    const region = regionArg(values.region as string | undefined, CONSOLE_USAGE) ?? regionOf(target) ?? env.AWS_REGION;
    if (!region) {
      throw new UsageError(
        `--url ${url} does not name a region (<id>.lambda-url.<region>.on.aws): pass --region`,
        CONSOLE_USAGE,
      );
    }
    const server = await signingProxy(target, region, context.deps.credentials ?? fromNodeProviderChain(), port);
    address = server.url;
    close = server.close;
    out(`Forwarding to ${target.origin}, signed with SigV4 for ${region}`);
  } else {
    if (values.endpoint === undefined) {
      throw new UsageError(
        'give --url <admin function URL> (or set TIDEMARK_ADMIN_URL), or --endpoint <url>',
        CONSOLE_USAGE,
      );
    }
    const [name] = positionalArgs(positionals, ['<processor>'], CONSOLE_USAGE);
    const processor = processorArg(name!, '<processor>', CONSOLE_USAGE);
    const target = tableTarget(values, env, CONSOLE_USAGE);
    const client = dynamoDbClient(target, env);
    const topics = values.topics
      ? topicList(values.topics as string)
      : [
          ...new Set(
            (await new DynamoDbTokenStore({ tableName: target.tableName, client }).readState(processor)).partitions.map(
              (p) => p.topic,
            ),
          ),
        ];
    const kafka = values.brokers ? brokersArg(values.brokers as string) : undefined;
    const server = await startAdminServer({
      client,
      tableName: target.tableName,
      processors: [{ name: processor, topics }],
      port,
      ...(kafka ? { kafka } : {}),
      stallWindowMs: 60_000,
    });
    address = server.url;
    close = async () => {
      await server.close();
      await kafka?.close();
      client.destroy();
    };
    out(`Serving the admin API of "${processor}" from ${target.tableName} at ${target.endpoint}`);
  }
  out(`Status page: ${address}/ (Ctrl-C stops it)`);
  await (context.deps.untilStopped ?? untilInterrupted)();
  await close();
  return 0;
}

function adminUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(
      `--url ${JSON.stringify(text)} is not a URL; give the admin function URL, e.g. https://abc.lambda-url.eu-west-1.on.aws/`,
      CONSOLE_USAGE,
    );
  }
  if (url.protocol !== 'https:' && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) {
    throw new UsageError(
      `--url must be https (signed requests carry your credentials' signature), got ${text}`,
      CONSOLE_USAGE,
    );
  }
  return url;
}

function regionOf(url: URL): string | undefined {
  return /\.lambda-url\.([a-z0-9-]+)\.on\.aws$/.exec(url.hostname)?.[1];
}

function topicList(text: string): string[] {
  const topics = text.split(',').map((t) => t.trim());
  for (const topic of topics) {
    if (!TOPIC_NAME.pattern.test(topic)) {
      throw new UsageError(`--topics has ${JSON.stringify(topic)}, which is not a Kafka topic name`, CONSOLE_USAGE);
    }
  }
  return topics;
}

function brokersArg(text: string) {
  try {
    return createKafkaAdmin({ brokers: text });
  } catch (error) {
    throw new UsageError(`--brokers: ${(error as Error).message}`, CONSOLE_USAGE);
  }
}

function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}

/** Request headers not forwarded: the proxy's own connection, and what the signature must not cover. */
const HOP_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'accept-encoding',
  'cookie',
  'origin',
  'referer',
]);

/**
 * A loopback server that forwards every request to `target`, signed with SigV4 for the `lambda` service (what a
 * function URL with AWS_IAM auth checks), and answers with the function's answer.
 */
export async function signingProxy(
  target: URL,
  region: string,
  credentials: CredentialsProvider,
  port: number,
): Promise<{ url: string; close(): Promise<void>; server: Server }> {
  const signer = new SignatureV4({ service: 'lambda', region, credentials, sha256: Sha256 });
  const forward = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = chunks.length ? Buffer.concat(chunks).toString('utf8') : undefined;
    const incoming = new URL(req.url ?? '/', 'http://localhost');
    const headers: Record<string, string> = { host: target.host };
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_HEADERS.has(name) && typeof value === 'string') headers[name] = value;
    }
    const signed = await signer.sign({
      method: req.method ?? 'GET',
      protocol: target.protocol,
      hostname: target.hostname,
      ...(target.port ? { port: Number(target.port) } : {}),
      path: incoming.pathname,
      query: Object.fromEntries(incoming.searchParams),
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const response = await fetch(new URL(`${incoming.pathname}${incoming.search}`, target), {
      method: req.method ?? 'GET',
      headers: signed.headers,
      ...(body === undefined ? {} : { body }),
    });
    const answer = Buffer.from(await response.arrayBuffer());
    const back: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      if (!['content-encoding', 'content-length', 'transfer-encoding', 'connection'].includes(name)) back[name] = value;
    });
    res.writeHead(response.status, back);
    res.end(answer);
  };
  const server = createServer((req, res) => {
    forward(req, res).catch((error: unknown) => {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: { code: 'BadGateway', message: `the admin function URL did not answer: ${message}` } }),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
