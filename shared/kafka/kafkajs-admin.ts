import kafkajs, { type Admin, type Consumer, type Kafka, type logLevel, type PartitionAssigner } from 'kafkajs';
import { TidemarkError } from '../errors.js';
import { resolveKafkaAdminSettings, type KafkaAdminSettings } from '../settings.js';
import { kafkaConnection, type KafkaConnectionDependencies } from './kafka-connection.js';
import type { KafkaAdmin, PartitionWatermarks } from './kafka-admin.js';

/** The cluster did not answer an admin request, or answered with an error; `retriable` says whether to try again. */
export class KafkaAdminError extends TidemarkError {}

/** The broker does not implement an API the admin side needs (librdkafka's mock cluster lacks DescribeGroups). */
export class KafkaAdminUnsupportedError extends KafkaAdminError {
  constructor(
    readonly api: string,
    context: Record<string, unknown> = {},
  ) {
    super(`the Kafka cluster does not support ${api}`, { context: { ...context, api } });
  }
}

/** A consumer group has members, so its offsets cannot be moved (its event source is still reading). */
export class GroupNotEmptyError extends KafkaAdminError {
  constructor(
    readonly groupId: string,
    readonly members: number,
  ) {
    super(
      `consumer group "${groupId}" has ${members > 0 ? `${members} other member(s)` : 'other members'}: its offsets can only move while it is empty (disable its event source first)`,
      { retriable: true, context: { groupId, members } },
    );
  }
}

/** A topic the cluster does not have. */
export class UnknownTopicError extends KafkaAdminError {
  constructor(readonly topic: string) {
    super(`topic "${topic}" does not exist in the Kafka cluster`, { context: { topic } });
  }
}

/** Settings of {@link createKafkaAdmin} beyond where the cluster is. */
export interface KafkaAdminOptions {
  /** @default "tidemark-admin" */
  readonly clientId?: string;
  /** How long moving a group's offsets waits to join the group (the broker delays a first join by about 3 s). @default 30000 */
  readonly joinTimeoutMs?: number;
  /** The session timeout of the short-lived member that moves offsets. @default 10000 */
  readonly sessionTimeoutMs?: number;
  /** kafkajs log lines at or above this level go to stderr. @default nothing */
  readonly kafkaLogLevel?: number;
  readonly deps?: KafkaConnectionDependencies;
}

/** Where the cluster is: resolved settings, or what {@link resolveKafkaAdminSettings} takes (e.g. `{ brokers }`). */
export type KafkaAdminTarget = KafkaAdminSettings | Parameters<typeof resolveKafkaAdminSettings>[0];

/**
 * The {@link KafkaAdmin} port on kafkajs. The connection (brokers, TLS, SASL) comes from {@link kafkaConnection} and is
 * made on first use; `close()` ends it. Group offsets are moved by a short-lived member of the group itself: it joins,
 * and only when it is the group's sole member (its leader, alone in the assignment) commits the offsets under its
 * generation; otherwise it commits nothing and the call fails with {@link GroupNotEmptyError}. Then it leaves. That
 * needs only JoinGroup, SyncGroup and OffsetCommit, so it works on every broker, including librdkafka's mock cluster,
 * which has no DescribeGroups (and accepts no commit outside a generation for a group that once had members).
 */
export function createKafkaAdmin(target: KafkaAdminTarget, options: KafkaAdminOptions = {}): KafkaAdmin {
  const settings =
    'auth' in target && Array.isArray(target.brokers)
      ? (target as KafkaAdminSettings)
      : resolveKafkaAdminSettings(target);
  return new KafkajsAdmin(settings, options);
}

// kafkajs is CommonJS and builds its exports with a spread, which Node's ESM loader cannot see: values are read off
// its default export.
/** An error and the causes under it: kafkajs's retrier wraps what it gives up on. (By name: vitest may load kafkajs twice.) */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = error; e !== undefined && e !== null && chain.length < 5; e = (e as { cause?: unknown }).cause)
    chain.push(e);
  return chain;
}

class KafkajsAdmin implements KafkaAdmin {
  private connection: Promise<{ kafka: Kafka; admin: Admin }> | undefined;

  constructor(
    private readonly settings: KafkaAdminSettings,
    private readonly options: KafkaAdminOptions,
  ) {}

  async watermarks(topic: string): Promise<PartitionWatermarks[]> {
    const { admin } = await this.connect();
    const offsets = await this.request(
      `fetching the offsets of topic "${topic}"`,
      () => admin.fetchTopicOffsets(topic),
      topic,
    );
    return offsets
      .map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) }))
      .sort((a, b) => a.partition - b.partition);
  }

  async offsetsAt(topic: string, timestampMs: number): Promise<Array<{ partition: number; offset: number }>> {
    const { admin } = await this.connect();
    const offsets = await this.request(
      `fetching the offsets of topic "${topic}" at ${new Date(timestampMs).toISOString()}`,
      () => admin.fetchTopicOffsetsByTimestamp(topic, timestampMs),
      topic,
    );
    return offsets
      .map((o) => ({ partition: o.partition, offset: Number(o.offset) }))
      .sort((a, b) => a.partition - b.partition);
  }

  async groupState(groupId: string): Promise<{ state: string; members: number }> {
    const { admin } = await this.connect();
    const { groups } = await this.request(`describing consumer group "${groupId}"`, () =>
      admin.describeGroups([groupId]),
    );
    const group = groups.find((g) => g.groupId === groupId);
    // A group the coordinator does not know is reported `Dead` with no members, as Kafka does.
    return { state: group?.state || 'Dead', members: group?.members.length ?? 0 };
  }

  async groupOffsets(groupId: string, topic: string): Promise<Array<{ partition: number; offset: number | null }>> {
    const { admin } = await this.connect();
    const answer = await this.request(
      `reading the offsets of consumer group "${groupId}" on "${topic}"`,
      () => admin.fetchOffsets({ groupId, topics: [topic] }),
      topic,
    );
    return (answer.find((t) => t.topic === topic)?.partitions ?? [])
      .map((p) => ({ partition: p.partition, offset: Number(p.offset) < 0 ? null : Number(p.offset) }))
      .sort((a, b) => a.partition - b.partition);
  }

  async setGroupOffsets(
    groupId: string,
    topic: string,
    offsets: ReadonlyArray<{ partition: number; offset: number }>,
  ): Promise<void> {
    if (offsets.length === 0) return;
    const { kafka } = await this.connect();
    const seen = { members: 0 };
    const consumer = kafka.consumer({
      groupId,
      // kafkajs's own assignor, counting members: a group of kafkajs members (the local poller) lets us in and we see
      // we are not alone; a group whose members lack it refuses us (INCONSISTENT_GROUP_PROTOCOL). An assignor of our
      // own would crash librdkafka's mock cluster, which asserts every member's first assignor is the group's.
      partitionAssigners: [countingRoundRobin(seen)],
      sessionTimeout: this.options.sessionTimeoutMs ?? 10_000,
      rebalanceTimeout: this.options.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: Math.floor((this.options.sessionTimeoutMs ?? 10_000) / 5),
      allowAutoTopicCreation: false,
      retry: { retries: 1, restartOnFailure: async () => false },
    });
    try {
      const joined = this.joinAlone(consumer, groupId, topic, seen);
      await consumer.connect();
      await consumer.subscribe({ topics: [topic] });
      // Nothing is read: the member exists to commit under its generation. autoCommit off, so it commits only this.
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: async () => undefined });
      await joined;
      await this.request(
        `committing the offsets of consumer group "${groupId}" on "${topic}"`,
        () => consumer.commitOffsets(offsets.map((o) => ({ topic, partition: o.partition, offset: String(o.offset) }))),
        topic,
      );
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (connection) await (await connection.catch(() => undefined))?.admin.disconnect();
  }

  private connect(): Promise<{ kafka: Kafka; admin: Admin }> {
    this.connection ??= (async () => {
      const config = await kafkaConnection(this.settings, this.options.clientId, this.options.deps);
      const kafka = new kafkajs.Kafka({
        ...config,
        logLevel: (this.options.kafkaLogLevel ?? kafkajs.logLevel.NOTHING) as logLevel,
        // An admin call answers a person or a state machine step: fail in seconds, let the caller retry.
        retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 },
        connectionTimeout: 5_000,
      });
      const admin = kafka.admin();
      await admin.connect();
      return { kafka, admin };
    })().catch((error: unknown) => {
      this.connection = undefined;
      throw new KafkaAdminError(`cannot connect to Kafka at ${this.where()}: ${describe(error)}`, {
        retriable: true,
        cause: error,
      });
    });
    return this.connection;
  }

  /** Resolves once the consumer joined as the group's sole member; rejects when others are members or it timed out. */
  private joinAlone(consumer: Consumer, groupId: string, topic: string, seen: { members: number }): Promise<void> {
    const timeoutMs = this.options.joinTimeoutMs ?? 30_000;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new KafkaAdminError(`did not join consumer group "${groupId}" within ${timeoutMs} ms`, { retriable: true }),
          ),
        timeoutMs,
      );
      const done = (outcome: () => void) => {
        clearTimeout(timer);
        outcome();
      };
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        const assigned = payload.memberAssignment[topic] ?? [];
        // Only the leader runs the assignor: a follower means another member leads the group.
        if (!payload.isLeader || seen.members !== 1 || assigned.length === 0) {
          done(() => reject(new GroupNotEmptyError(groupId, Math.max(0, seen.members - 1))));
        } else {
          done(resolve);
        }
      });
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        const error = payload.error as Error & { type?: string };
        // Members with another assignor: the group has members that are not us.
        done(() =>
          reject(
            error.type === 'INCONSISTENT_GROUP_PROTOCOL'
              ? new GroupNotEmptyError(groupId, 0)
              : new KafkaAdminError(
                  `could not join consumer group "${groupId}" as its only member (${describe(error)}): it may still have members; disable its event source first`,
                  { retriable: true, cause: error },
                ),
          ),
        );
      });
    });
  }

  /** Runs a kafkajs call, turning its failures into typed errors. */
  private async request<T>(what: string, call: () => Promise<T>, topic?: string): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof TidemarkError) throw error;
      const unsupported = causes(error).find((e) => (e as Error).name === 'KafkaJSServerDoesNotSupportApiKey');
      if (unsupported) {
        throw new KafkaAdminUnsupportedError(String((unsupported as { apiName?: unknown }).apiName ?? what), { what });
      }
      const type = (error as { type?: string }).type;
      if (topic !== undefined && type === 'UNKNOWN_TOPIC_OR_PARTITION') throw new UnknownTopicError(topic);
      const retriable = (error as { retriable?: boolean }).retriable !== false;
      throw new KafkaAdminError(`${what} failed at ${this.where()}: ${describe(error)}`, { retriable, cause: error });
    }
  }

  private where(): string {
    return this.settings.brokers.length > 0 ? this.settings.brokers.join(',') : String(this.settings.mskClusterArn);
  }
}

/** kafkajs's round robin assignor, counting the members it assigns to. */
function countingRoundRobin(seen: { members: number }): PartitionAssigner {
  return (config) => {
    const roundRobin = kafkajs.PartitionAssigners.roundRobin(config);
    return {
      name: roundRobin.name,
      version: roundRobin.version,
      protocol: (subscription) => roundRobin.protocol(subscription),
      assign: (group) => {
        seen.members = group.members.length;
        return roundRobin.assign.call(roundRobin, group);
      },
    };
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
