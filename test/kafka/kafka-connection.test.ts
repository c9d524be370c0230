import { GetBootstrapBrokersCommand } from '@aws-sdk/client-kafka';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { generateAuthTokenFromCredentialsProvider } from 'aws-msk-iam-sasl-signer-js';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../shared/errors.js';
import { kafkaConnection } from '../../shared/kafka/kafka-connection.js';
import {
  kafkaAdminSettingsFromEnv,
  kafkaAdminSettingsToEnv,
  resolveKafkaAdminSettings,
} from '../../shared/settings.js';

const CLUSTER = 'arn:aws:kafka:eu-west-1:123456789012:cluster/orders/abcd1234-0000-1111-2222-333344445555-1';
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:kafka/tidemark-AbCdEf';

/** Answers AWS calls from a table, recording what was asked (GetBootstrapBrokers, GetSecretValue). */
function answering<T>(answer: T) {
  const asked: unknown[] = [];
  return {
    asked,
    client: {
      send: async (command: GetBootstrapBrokersCommand | GetSecretValueCommand) => {
        asked.push(command.input);
        return answer;
      },
    },
  };
}

const BROKERS = {
  BootstrapBrokerString: 'b-1.orders.kafka.eu-west-1.amazonaws.com:9092',
  BootstrapBrokerStringTls: 'b-1.orders.kafka.eu-west-1.amazonaws.com:9094',
  BootstrapBrokerStringSaslIam:
    'b-1.orders.kafka.eu-west-1.amazonaws.com:9098,b-2.orders.kafka.eu-west-1.amazonaws.com:9098',
  BootstrapBrokerStringSaslScram: 'b-1.orders.kafka.eu-west-1.amazonaws.com:9096',
};

describe('the admin side’s Kafka settings', () => {
  it('resolves once, with auth defaulting from the cluster, and round-trips through the environment', () => {
    const msk = resolveKafkaAdminSettings({ mskClusterArn: CLUSTER });
    const plain = resolveKafkaAdminSettings({ brokers: 'localhost:9092, 127.0.0.1:19092' });

    expect(msk).toEqual({ brokers: [], mskClusterArn: CLUSTER, auth: 'msk-iam', secretArn: undefined });
    expect(plain).toEqual({
      brokers: ['localhost:9092', '127.0.0.1:19092'],
      mskClusterArn: undefined,
      auth: 'none',
      secretArn: undefined,
    });
    expect(kafkaAdminSettingsFromEnv(kafkaAdminSettingsToEnv(msk))).toEqual(msk);
    expect(kafkaAdminSettingsFromEnv({})).toBeUndefined();
  });

  it('refuses what cannot connect, naming the variable when read from the environment', () => {
    const refusal = (make: () => unknown) => {
      try {
        make();
        return 'accepted';
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigurationError);
        return (error as Error).message;
      }
    };

    expect([
      refusal(() => resolveKafkaAdminSettings({})),
      refusal(() => kafkaAdminSettingsFromEnv({ TIDEMARK_KAFKA_BROKERS: 'localhost' })),
      refusal(() =>
        kafkaAdminSettingsFromEnv({ TIDEMARK_KAFKA_BROKERS: 'b:9096', TIDEMARK_KAFKA_AUTH: 'sasl-scram-512' }),
      ),
      refusal(() => resolveKafkaAdminSettings({ brokers: ['b:9092'], auth: 'msk-iam' })),
      refusal(() => resolveKafkaAdminSettings({ brokers: ['b:9092'], auth: 'kerberos' })),
      refusal(() => resolveKafkaAdminSettings({ mskClusterArn: 'arn:aws:kafka:eu-west-1:1:cluster/x' })),
    ]).toEqual([
      'the admin side needs Kafka: set brokers ("host:port,…") or mskClusterArn',
      'TIDEMARK_KAFKA_BROKERS must list "host:port" brokers separated by commas (port 1 to 65535), got "localhost"',
      'TIDEMARK_KAFKA_AUTH "sasl-scram-512" needs TIDEMARK_KAFKA_SECRET_ARN: the secret holding {"username", "password"}',
      'auth "msk-iam" needs mskClusterArn: its region signs the IAM tokens',
      'auth must be one of none, msk-iam, sasl-scram-256, sasl-scram-512, got "kerberos"',
      'mskClusterArn must be an MSK cluster ARN (arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>), got "arn:aws:kafka:eu-west-1:1:cluster/x"',
    ]);
  });
});

describe('kafkaConnection', () => {
  it('connects to plain brokers as given, without TLS or SASL', async () => {
    expect(await kafkaConnection(resolveKafkaAdminSettings({ brokers: ['localhost:9092'] }), 'me')).toEqual({
      clientId: 'me',
      brokers: ['localhost:9092'],
      ssl: false,
    });
  });

  it('signs in to MSK with IAM over TLS, on the IAM brokers GetBootstrapBrokers names, with a token signed for the cluster’s region', async () => {
    const msk = answering(BROKERS);
    const config = await kafkaConnection(resolveKafkaAdminSettings({ mskClusterArn: CLUSTER }), 'me', {
      msk: msk.client,
      // The real signer, with fixed credentials instead of the SDK's chain: it signs locally.
      signToken: (region) =>
        generateAuthTokenFromCredentialsProvider({
          region,
          awsCredentialsProvider: async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }),
        }),
    });

    expect(msk.asked).toEqual([{ ClusterArn: CLUSTER }]);
    expect(config).toMatchObject({ brokers: BROKERS.BootstrapBrokerStringSaslIam.split(','), ssl: true });
    const sasl = config.sasl as { mechanism: string; oauthBearerProvider: () => Promise<{ value: string }> };
    expect(sasl.mechanism).toBe('oauthbearer');
    const url = new URL(Buffer.from((await sasl.oauthBearerProvider()).value, 'base64url').toString());
    expect(url.host).toBe('kafka.eu-west-1.amazonaws.com');
    expect(url.searchParams.get('Action')).toBe('kafka-cluster:Connect');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(
      /^AKIDEXAMPLE\/\d{8}\/eu-west-1\/kafka-cluster\/aws4_request$/,
    );
  });

  it('signs in with SASL/SCRAM from the secret, and names the secret when it lacks a password', async () => {
    const secrets = answering({ SecretString: JSON.stringify({ username: 'tidemark', password: 's3cret' }) });
    const config = await kafkaConnection(
      resolveKafkaAdminSettings({ brokers: ['b-1:9096'], auth: 'sasl-scram-256', secretArn: SECRET }),
      'me',
      { secrets: secrets.client },
    );
    const broken = await kafkaConnection(
      resolveKafkaAdminSettings({ mskClusterArn: CLUSTER, auth: 'sasl-scram-512', secretArn: SECRET }),
      'me',
      { secrets: answering({ SecretString: '{"username":"tidemark"}' }).client, msk: answering(BROKERS).client },
    ).catch((e: unknown) => e);

    expect(secrets.asked).toEqual([{ SecretId: SECRET }]);
    expect(config).toEqual({
      clientId: 'me',
      brokers: ['b-1:9096'],
      ssl: true,
      sasl: { mechanism: 'scram-sha-256', username: 'tidemark', password: 's3cret' },
    });
    expect(broken).toBeInstanceOf(ConfigurationError);
    expect((broken as Error).message).toBe(
      `secret ${SECRET} must hold JSON {"username": "…", "password": "…"} for SASL/SCRAM (as Lambda's event source reads it)`,
    );
  });

  it('says which brokers an MSK cluster lacks for the authentication asked for', async () => {
    const error = await kafkaConnection(resolveKafkaAdminSettings({ mskClusterArn: CLUSTER }), 'me', {
      msk: answering({ BootstrapBrokerStringTls: BROKERS.BootstrapBrokerStringTls }).client,
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toBe(
      `MSK cluster ${CLUSTER} has no BootstrapBrokerStringSaslIam brokers: enable msk-iam authentication on it, or set the brokers`,
    );
  });
});
