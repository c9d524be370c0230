import { GetBootstrapBrokersCommand, KafkaClient } from '@aws-sdk/client-kafka';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { generateAuthToken } from 'aws-msk-iam-sasl-signer-js';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import { ConfigurationError } from '../errors.js';
import { KafkaAuth, mskClusterRegion, type KafkaAdminSettings } from '../settings.js';

/** What {@link kafkaConnection} calls besides Kafka, replaceable in tests; each defaults to the real AWS client. */
export interface KafkaConnectionDependencies {
  /** Answers GetBootstrapBrokers for an MSK cluster. @default a KafkaClient in the cluster's region */
  readonly msk?: { send(command: GetBootstrapBrokersCommand): Promise<GetBootstrapBrokersOutput> };
  /** Answers GetSecretValue for a SASL/SCRAM secret. @default a SecretsManagerClient in the secret's region */
  readonly secrets?: { send(command: GetSecretValueCommand): Promise<{ SecretString?: string }> };
  /** Signs an MSK IAM token for a region. @default aws-msk-iam-sasl-signer-js `generateAuthToken` (the SDK's credential chain) */
  readonly signToken?: (region: string) => Promise<{ token: string; expiryTime: number }>;
}

/** The broker strings GetBootstrapBrokers answers with (the ones read here). */
interface GetBootstrapBrokersOutput {
  readonly BootstrapBrokerString?: string;
  readonly BootstrapBrokerStringTls?: string;
  readonly BootstrapBrokerStringSaslIam?: string;
  readonly BootstrapBrokerStringSaslScram?: string;
}

/**
 * The kafkajs connection for the admin side's settings: plain brokers (a local or test cluster); Amazon MSK with IAM
 * (SASL/OAUTHBEARER with a token from aws-msk-iam-sasl-signer-js, signed again on every connection, over TLS); or
 * SASL/SCRAM-SHA-256/512 over TLS with the `{"username", "password"}` of a Secrets Manager secret. For MSK the
 * brokers come from GetBootstrapBrokers (the IAM, SCRAM or TLS string for the authentication) unless given.
 */
export async function kafkaConnection(
  settings: KafkaAdminSettings,
  clientId = 'tidemark-admin',
  deps: KafkaConnectionDependencies = {},
): Promise<Pick<KafkaConfig, 'clientId' | 'brokers' | 'ssl' | 'sasl'>> {
  const { brokers, tls } =
    settings.brokers.length > 0 ? { brokers: [...settings.brokers], tls: false } : await mskBrokers(settings, deps);
  switch (settings.auth) {
    case KafkaAuth.None:
      // MSK without client authentication still speaks TLS on its TLS listener.
      return { clientId, brokers, ssl: tls };
    case KafkaAuth.MskIam: {
      const region = mskClusterRegion(settings.mskClusterArn!);
      const sign = deps.signToken ?? ((r: string) => generateAuthToken({ region: r }));
      const sasl: SASLOptions = {
        mechanism: 'oauthbearer',
        // kafkajs asks on every connection; a token lasts 15 minutes, so a fresh one each time is never stale.
        oauthBearerProvider: async () => ({ value: (await sign(region)).token }),
      };
      return { clientId, brokers, ssl: true, sasl };
    }
    case KafkaAuth.SaslScram256:
    case KafkaAuth.SaslScram512: {
      const { username, password } = await scramCredentials(settings.secretArn!, deps);
      const sasl: SASLOptions =
        settings.auth === KafkaAuth.SaslScram256
          ? { mechanism: 'scram-sha-256', username, password }
          : { mechanism: 'scram-sha-512', username, password };
      return { clientId, brokers, ssl: true, sasl };
    }
  }
}

/** The cluster's bootstrap brokers for the authentication in use, from GetBootstrapBrokers, and whether they use TLS. */
async function mskBrokers(
  settings: KafkaAdminSettings,
  deps: KafkaConnectionDependencies,
): Promise<{ brokers: string[]; tls: boolean }> {
  const arn = settings.mskClusterArn!;
  const client = deps.msk ?? new KafkaClient({ region: mskClusterRegion(arn) });
  const answer = await client.send(new GetBootstrapBrokersCommand({ ClusterArn: arn }));
  const field: keyof GetBootstrapBrokersOutput =
    settings.auth === KafkaAuth.MskIam
      ? 'BootstrapBrokerStringSaslIam'
      : settings.auth === KafkaAuth.None
        ? answer.BootstrapBrokerStringTls
          ? 'BootstrapBrokerStringTls'
          : 'BootstrapBrokerString'
        : 'BootstrapBrokerStringSaslScram';
  const list = (answer[field] ?? '')
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker !== '');
  if (list.length === 0) {
    throw new ConfigurationError(
      `MSK cluster ${arn} has no ${field} brokers: enable ${settings.auth} authentication on it, or set the brokers`,
      { context: { clusterArn: arn, auth: settings.auth } },
    );
  }
  return { brokers: list, tls: field !== 'BootstrapBrokerString' };
}

/** `{"username", "password"}` from the secret; a ConfigurationError names the secret and what is missing. */
async function scramCredentials(
  secretArn: string,
  deps: KafkaConnectionDependencies,
): Promise<{ username: string; password: string }> {
  const region = secretArn.split(':')[3];
  const client = deps.secrets ?? new SecretsManagerClient(region ? { region } : {});
  const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
  let parsed: unknown;
  try {
    parsed = JSON.parse(SecretString ?? '');
  } catch {
    parsed = undefined;
  }
  const { username, password } = (parsed ?? {}) as { username?: unknown; password?: unknown };
  if (typeof username !== 'string' || username === '' || typeof password !== 'string' || password === '') {
    throw new ConfigurationError(
      `secret ${secretArn} must hold JSON {"username": "…", "password": "…"} for SASL/SCRAM (as Lambda's event source reads it)`,
      { context: { secretArn } },
    );
  }
  return { username, password };
}
