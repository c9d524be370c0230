import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';

/** Runs the CLI with no table or AWS behind it: every case here must be settled from the arguments alone. */
async function cli(args: string[], env: NodeJS.ProcessEnv = { TIDEMARK_TABLE_NAME: 'unused' }) {
  const lines: string[] = [];
  const code = await main(args, env, (line) => lines.push(line));
  return { code, text: lines.join('\n'), first: lines.join('\n').split('\n')[0]! };
}

const key = ['orders-0', '--key', 'k-a'];

/** [arguments, what the first line must say, the usage that must follow]. */
const USAGE_ERRORS: Array<[string[], string | RegExp, string]> = [
  [
    ['frob'],
    'unknown command "frob"; allowed: status, split, merge, scale, dead-letters',
    'tidemark scale  <processor> <segments>',
  ],
  [
    ['dead-letters'],
    'missing <subcommand>: list, show, retry, delete or audit',
    'tidemark dead-letters audit  <processor>',
  ],
  [
    ['dead-letters', 'purge', 'p'],
    'unknown dead-letters subcommand "purge"; allowed: list, show, retry, delete, audit',
    'tidemark dead-letters list   <processor>',
  ],
  [['dead-letters', 'list'], 'missing <processor>', 'Usage: tidemark dead-letters list'],
  [['dead-letters', 'show', 'p'], 'missing <topic-partition>', 'Usage: tidemark dead-letters show'],
  [
    ['dead-letters', 'list', 'p', 'extra'],
    'unexpected argument "extra" after <processor>',
    'Usage: tidemark dead-letters list',
  ],
  [['status'], 'missing <processor>', 'Usage: tidemark status'],
  [['merge', 'p'], 'missing <segment>', 'Usage: tidemark merge <processor> <segment>'],
  [['scale', 'p', 'many'], '<segments> must be a whole number >= 1, got "many"', 'Usage: tidemark scale'],
  [
    ['dead-letters', 'list', 'p', '--bogus'],
    /^tidemark: unknown option --bogus; allowed: .*--partition <value>, --json$/,
    'Usage: tidemark dead-letters list',
  ],
  [
    ['status', 'p', '--key', 'x'],
    /^tidemark: unknown option --key; allowed: --table <value>, --endpoint <value>, --help, --json$/,
    'Usage: tidemark status',
  ],
  [
    ['dead-letters', 'list', 'p', '--json=yes'],
    '--json is a switch and takes no value',
    'Usage: tidemark dead-letters list',
  ],
  [['dead-letters', 'list', 'p', '--partition'], '--partition needs a value', 'Usage: tidemark dead-letters list'],
  [
    ['dead-letters', 'show', 'p', ...key, '--offset', '-1'],
    '--offset needs a value, got an option after it (write --offset=<value> for a value that starts with "-")',
    'Usage: tidemark dead-letters show',
  ],
  [
    ['dead-letters', 'show', 'p', ...key, '--offset', 'first'],
    '--offset must be a whole number >= 0, got "first"',
    'Usage: tidemark dead-letters show',
  ],
  [
    ['dead-letters', 'show', 'p', ...key, '--offset=-1'],
    '--offset must be a whole number >= 0, got "-1"',
    'Usage: tidemark dead-letters show',
  ],
  [
    ['dead-letters', 'show', 'p', ...key, '--limit', '0'],
    '--limit must be a whole number >= 1, got "0"',
    'Usage: tidemark dead-letters show',
  ],
  [
    ['dead-letters', 'audit', 'p', '--limit', '2.5'],
    '--limit must be a whole number >= 1, got "2.5"',
    'Usage: tidemark dead-letters audit',
  ],
  [
    ['dead-letters', 'delete', 'p', ...key, '--offset', 'x', '--reason', 'r'],
    '--offset must be a whole number >= 0, got "x"',
    'Usage: tidemark dead-letters delete',
  ],
  [
    ['dead-letters', 'retry', 'p', '--all', '--rate', 'fast'],
    '--rate must be a number above 0, got "fast"',
    'Usage: tidemark dead-letters retry',
  ],
  [
    ['dead-letters', 'retry', 'p', '--all', '--rate', '0'],
    '--rate must be a number above 0, got "0"',
    'Usage: tidemark dead-letters retry',
  ],
  [
    ['dead-letters', 'show', 'p', 'orders-0', '--key', 'a', '--digest', 'KcLMiI-ps_RuBxEQDhcpoQ'],
    '--key and --digest name the same thing: give one of them',
    'Usage: tidemark dead-letters show',
  ],
  [
    ['dead-letters', 'retry', 'p', 'orders-0', '--key', 'a', '--digest', 'KcLMiI-ps_RuBxEQDhcpoQ'],
    '--key and --digest name the same thing',
    'Usage: tidemark dead-letters retry',
  ],
  [
    ['dead-letters', 'show', 'p', 'orders-0', '--digest', 'short'],
    '--digest must be a key digest as list prints it (22 characters of base64url), got "short"',
    'Usage: tidemark dead-letters show',
  ],
  [
    ['dead-letters', 'show', 'p', 'orders'],
    '<topic-partition> must be <topic>-<partition number>, e.g. orders-3, got "orders"',
    'Usage: tidemark dead-letters show',
  ],
  [
    ['dead-letters', 'show', 'p', 'orders-x'],
    '<topic-partition> must be <topic>-<partition number>, e.g. orders-3, got "orders-x"',
    'Usage: tidemark dead-letters show',
  ],
  [['dead-letters', 'list', 'p', '--partition', 'orders-'], 'got "orders-"', 'Usage: tidemark dead-letters list'],
  [
    ['dead-letters', 'delete', 'p', 'orders-01', '--key', 'a', '--all', '--reason', 'r'],
    'got "orders-01"',
    'Usage: tidemark dead-letters delete',
  ],
  [
    ['dead-letters', 'list', 'p', '--endpoint', 'localhost:8000'],
    '--endpoint must be an http(s) URL such as http://localhost:8000, got "localhost:8000"',
    'Usage: tidemark dead-letters list',
  ],
  [['status', 'p', '--endpoint', 'not a url'], '--endpoint must be an http(s) URL', 'Usage: tidemark status'],
  [['dead-letters', 'retry', 'p'], 'missing <topic-partition>', 'Usage: tidemark dead-letters retry'],
  [
    ['dead-letters', 'retry', 'p', 'orders-0'],
    'name the key with --key <key> or --digest <digest>, or retry every key with --all',
    'Usage: tidemark dead-letters retry',
  ],
  [
    ['dead-letters', 'retry', 'p', '--all', '--key', 'a'],
    '--all retries every parked key: give no --key or --digest with it',
    'Usage: tidemark dead-letters retry',
  ],
  [
    ['dead-letters', 'delete', 'p', 'orders-0', '--all', '--reason', 'r'],
    'name the key with --key <key> or --digest <digest>',
    'Usage: tidemark dead-letters delete',
  ],
  [
    ['dead-letters', 'delete', 'p', ...key, '--reason', 'r'],
    'name the letters: --offset <n> (repeat for more) or --all',
    'Usage: tidemark dead-letters delete',
  ],
  [
    ['dead-letters', 'delete', 'p', ...key, '--all', '--offset', '1', '--reason', 'r'],
    '--all deletes every letter of the key: give no --offset with it',
    'Usage: tidemark dead-letters delete',
  ],
  [
    ['dead-letters', 'delete', 'p', ...key, '--offset', '1'],
    '--reason "<why>" is required',
    'Usage: tidemark dead-letters delete',
  ],
  [
    ['dead-letters', 'delete', 'p', ...key, '--offset', '1', '--reason', '  '],
    '--reason "<why>" is required',
    'Usage: tidemark dead-letters delete',
  ],
];

describe('tidemark usage errors', () => {
  it.each(USAGE_ERRORS)('%j exits 2 naming what is wrong, then the usage', async (args, says, usage) => {
    const { code, text, first } = await cli(args);

    expect(code).toBe(2);
    if (typeof says === 'string') expect(first).toContain(says);
    else expect(first).toMatch(says);
    expect(first).toMatch(/^tidemark: /);
    expect(text.split('\n').slice(1).join('\n')).toContain(usage);
    expect(text).not.toMatch(/^\s+at /m);
  });

  it('names both --table and TIDEMARK_TABLE_NAME when no table is given', async () => {
    for (const args of [
      ['status', 'p'],
      ['dead-letters', 'list', 'p'],
      ['split', 'p', '0/1'],
    ]) {
      const { code, first, text } = await cli(args, {});
      expect(code).toBe(2);
      expect(first).toBe('tidemark: no token table: pass --table <name> or set TIDEMARK_TABLE_NAME');
      expect(text).toContain(`Usage: tidemark ${args[0]}`);
    }
  });

  it('checks every argument before it needs a table', async () => {
    const { code, first } = await cli(['dead-letters', 'show', 'p', 'orders'], {});

    expect(code).toBe(2);
    expect(first).toContain('got "orders"');
  });
});

describe('tidemark help', () => {
  const HELP: Array<[string[], string[]]> = [
    [['--help'], ['tidemark dead-letters list|show|retry|delete|audit', 'tidemark status <processor>']],
    [
      ['status', '--help'],
      ['--json', '--table <name>', '--endpoint <url>'],
    ],
    [
      ['split', '-h'],
      ['--state-machine <arn>', '--layout-ttl-ms <ms>'],
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
      ['dead-letters', 'delete', '--help'],
      ['--offset <n>', 'repeat for more', '--all', '--reason "<why>"', 'required', '--by <who>'],
    ],
    [
      ['dead-letters', 'audit', '--help'],
      ['--limit <n>', '(default 50)'],
    ],
  ];

  it.each(HELP)('%j lists its options and exits 0', async (args, options) => {
    const { code, text } = await cli(args, {});

    expect(code).toBe(0);
    for (const option of options) expect(text).toContain(option);
  });

  it('prints the usage and exits 2 with no command at all', async () => {
    const { code, text } = await cli([]);

    expect(code).toBe(2);
    expect(text).toContain('tidemark scale  <processor> <segments>');
  });
});
