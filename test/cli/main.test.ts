import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { DynamoDbTokenStore } from '../../shared/tokens/dynamodb-token-store.js';
import { PartitionToken } from '../../shared/tokens/token.js';
import { closedPort, runCli, runProgram } from '../support/cli.js';
import { freshTokenTable, localDynamoDb } from '../support/dynamodb.js';

const cli = (args: string[]) => runCli(args);

async function seeded(segments: number) {
  const table = await freshTokenTable();
  const store = new DynamoDbTokenStore({ tableName: table, client: localDynamoDb() });
  await store.initialise('orders-view', segments);
  return { table, store, local: ['--table', table, '--endpoint', inject('dynamoDbEndpoint')] };
}

describe('tidemark CLI against the local stack', () => {
  it('prints segments, masks, positions per partition and owners', async () => {
    const { store, local } = await seeded(2);
    const claim = await store.claim({
      processor: 'orders-view',
      topic: 'orders',
      partition: 1,
      owner: 'inv-7/orders-1',
      layoutVersion: 1,
      leaseMs: 30_000,
    });
    const token = PartitionToken.initial().advance({
      segments: [
        { id: 0, mask: 1 },
        { id: 1, mask: 1 },
      ],
      first: 0,
      last: 41,
      unfinished: [{ offset: 17, hash: 0 }],
      maxRanges: 10,
    }).token;
    await store.checkpoint(claim, token, { release: false, leaseMs: 30_000 });

    const { code, text } = await cli(['status', 'orders-view', ...local]);

    expect(code).toBe(0);
    expect(text).toContain('Processor orders-view: layout v1, 2 segment(s)');
    expect(text).toMatch(
      /orders-1: claimed by inv-7\/orders-1 \(epoch 1\), lease ends in (29|30)s, routed with layout v1/,
    );
    expect(text).toContain('0/1       active   orders-1=17 +24');
    expect(text).toContain('1/1       active   orders-1=42');
  });

  it('splits a segment in process with changeLayout, printing each step and the resulting segments', async () => {
    const { store, local } = await seeded(2);

    const { code, text } = await cli(['split', 'orders-view', '1/1', ...local, '--layout-ttl-ms', '100']);

    expect(code).toBe(0);
    expect(text).toContain('Running orders-view-split-1-1-v1 locally');
    expect(text).toContain('  begin: ');
    expect(text).toContain('Done: applied, layout v3, segments 0/1 1/3 3/3');
    expect((await store.readLayout('orders-view')).segments.map((s) => `${s.id}/${s.mask}`)).toEqual([
      '0/1',
      '1/3',
      '3/3',
    ]);
  });

  it('refuses a merge whose sibling is split further, before starting anything', async () => {
    const { store, local } = await seeded(3);

    const { code, text, errors } = await cli(['merge', 'orders-view', '1/1', ...local]);

    expect(code).toBe(1);
    expect(errors).toBe('tidemark: cannot merge 1/1: its sibling 0/1 is split further (0/3, 2/3); merge those first');
    expect(text).not.toContain('Running');
    expect((await store.readLayout('orders-view')).version).toBe(1);
  });

  it('names unknown processors and segments, and splits past the maximum depth, in one line with exit 1', async () => {
    const { local } = await seeded(1);

    const failures: Array<[string[], string | RegExp]> = [
      [
        ['status', 'nobody', ...local],
        `tidemark: processor "nobody" has no layout in the token store: initialise it first with tidemark init --processor nobody ${local.join(' ')}`,
      ],
      [['split', 'orders-view', '1/1', ...local], 'processor "orders-view" has no segment 1/1; its segments are 0/0'],
      [['split', 'orders-view', '0/65535', ...local], /no segment 0\/65535/],
      [['split', 'orders-view', '0/131071', ...local], /mask must be 2\^d-1 with d <= 16/],
    ];
    for (const [args, says] of failures) {
      const { code, errors } = await cli(args);
      expect(code).toBe(1);
      expect(errors.split('\n')).toHaveLength(1);
      if (typeof says === 'string') expect(errors).toContain(says);
      else expect(errors).toMatch(says);
    }
  });

  it('explains its usage when the command is incomplete', async () => {
    const { code, first, errors } = await cli(['merge', 'orders-view']);

    expect(code).toBe(2);
    expect(first).toBe('tidemark: missing <segment>');
    expect(errors).toContain('Usage: tidemark merge <processor> <segment>');
    expect(errors).toContain('--state-machine <arn>');
  });
});

/** Every command path with options of its own. */
const COMMAND_PATHS = [
  ['init'],
  ['status'],
  ['split'],
  ['merge'],
  ['scale'],
  ['dead-letters', 'list'],
  ['dead-letters', 'show'],
  ['dead-letters', 'retry'],
  ['dead-letters', 'delete'],
  ['dead-letters', 'audit'],
];

describe('tidemark help', () => {
  const EVERY_COMMAND = [
    'tidemark init   [<processor>] [--segments <n>]',
    'tidemark status <processor>',
    'tidemark split  <processor> <segment>',
    'tidemark merge  <processor> <segment>',
    'tidemark scale  <processor> <segments>',
    'tidemark dead-letters list|show|retry|delete|audit <processor>',
    'tidemark help [<command>]',
    'Run tidemark <command> --help',
  ];
  const HELP: Array<[string[], string[]]> = [
    [['--help'], EVERY_COMMAND],
    [['-h'], EVERY_COMMAND],
    [['help'], EVERY_COMMAND],
    [
      ['init', '--help'],
      ['Usage: tidemark init', '--processor <name>', '--segments <n>', '1 to 2048 (default 4', '--region <region>'],
    ],
    [
      ['help', 'init'],
      ['Usage: tidemark init', '--segments <n>'],
    ],
    [['init', '--segments', 'zero', '--help'], ['Usage: tidemark init']],
    [
      ['status', '--help'],
      ['Usage: tidemark status', '--json', '--table <name>', '--endpoint <url>', '-h, --help'],
    ],
    [
      ['split', '-h'],
      ['Usage: tidemark split', '--state-machine <arn>', '--layout-ttl-ms <ms>'],
    ],
    [
      ['merge', '--help'],
      ['Usage: tidemark merge', '$TIDEMARK_MERGE_STATE_MACHINE'],
    ],
    [
      ['scale', '--help'],
      ['Usage: tidemark scale', '$TIDEMARK_SCALE_STATE_MACHINE'],
    ],
    [
      ['dead-letters', '--help'],
      ['tidemark dead-letters delete <processor>', 'tidemark dead-letters audit  <processor>'],
    ],
    [
      ['dead-letters', 'list', '--help'],
      ['--partition <t-p>', '--json', '--table <name>'],
    ],
    [
      ['dead-letters', 'show', '--help'],
      ['--key <key>', '--digest <digest>', '--offset <n>', '--limit <n>', '(default 20)', '--json'],
    ],
    [
      ['dead-letters', 'retry', '--help'],
      ['--all', '--rate <keys/s>', '(default 5)', '--function <name or ARN>', '$TIDEMARK_REDRIVE_FUNCTION'],
    ],
    [
      ['help', 'dead-letters', 'retry'],
      ['Usage: tidemark dead-letters retry', '--rate <keys/s>'],
    ],
    [
      ['dead-letters', 'delete', '--help'],
      ['--offset <n>', 'repeat for more', '--all', '--reason "<why>"', 'required', '--by <who>'],
    ],
    [
      ['dead-letters', 'audit', '--help'],
      ['--limit <n>', '(default 50)'],
    ],
  ];

  it.each(HELP)('%j prints its usage to stdout and exits 0', async (args, says) => {
    const { code, text, errors } = await runCli(args);

    expect(code).toBe(0);
    expect(errors).toBe('');
    for (const said of says) expect(text).toContain(said);
  });

  it.each(COMMAND_PATHS)('%s … --help lists every option the command accepts', async (...path) => {
    // The allowed list of an unknown option is the command's real option spec; its help must name each one.
    const { first } = await runCli([...path, '--bogus']);
    const allowed = /; allowed: (.*)$/.exec(first)![1]!.match(/--[a-z-]+/g)!;
    expect(allowed).toEqual(expect.arrayContaining(['--table', '--endpoint', '--region', '--help']));

    const { code, text } = await runCli([...path, '--help']);

    expect(code).toBe(0);
    expect(text).toMatch(new RegExp(`^Usage: tidemark ${path.join(' ')} `));
    for (const flag of allowed) expect(text).toMatch(new RegExp(`^ +(-h, )?${flag} `, 'm'));
  });
});

describe('tidemark as a program', () => {
  it('exits 2 on a usage error and 1 on a failure, on stderr, in one line, with no stack trace', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    const [usage, failure] = await Promise.all([
      runProgram(['status', 'orders-view', '--bogus']),
      runProgram(['status', 'orders-view', '--table', 'tokens', '--endpoint', endpoint]),
    ]);

    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe('');
    expect(usage.stderr).toMatch(/^tidemark: unknown option --bogus; allowed: /);
    expect(usage.stderr).toContain('Usage: tidemark status');
    expect(failure.code).toBe(1);
    expect(failure.stdout).toBe('');
    expect(failure.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^tidemark: cannot reach DynamoDB at ${endpoint} \\(connect ECONNREFUSED [^)]*\\): is DynamoDB Local running there\\?`,
        ),
      ),
    ]);
    for (const output of [usage.stderr, failure.stderr]) expect(output).not.toMatch(/^\s+at /m);
  });
});

describe("the CLI's imports", () => {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };

  /** Static imports (type-only ones left out: they are erased) and dynamic ones of a source file. */
  function importsOf(file: string) {
    const text = readFileSync(file, 'utf8');
    const statics = [...text.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^;'"]*?\sfrom\s+)?'([^']+)'/gm)].map(
      (m) => m[1]!,
    );
    const dynamics = [...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!);
    return { statics, dynamics };
  }

  it('reach shared/ and the runtime dependencies only', () => {
    const seen = new Set<string>();
    const packages = new Set<string>();
    const dynamic: string[] = [];
    const queue = readdirSync(join(root, 'cli')).map((name) => join(root, 'cli', name));
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const { statics, dynamics } = importsOf(file);
      for (const specifier of dynamics) dynamic.push(`${relative(root, file)} -> ${specifier}`);
      for (const specifier of statics) {
        if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier.replace(/\.js$/, '.ts')));
        else
          packages.add(
            specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!,
          );
      }
    }
    const areas = new Set([...seen].map((file) => relative(root, file).split('/')[0]));

    expect([...areas].sort()).toEqual(['cli', 'shared']);
    const builtins = new Set(builtinModules.map((name) => `node:${name}`));
    expect([...packages].filter((name) => !builtins.has(name) && !(name in pkg.dependencies))).toEqual([]);
    expect(packages).toContain('@aws-sdk/client-dynamodb');
    expect(dynamic).toEqual([]);
  });
});
