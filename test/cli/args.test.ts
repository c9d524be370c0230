import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

/** Runs the CLI with no table or AWS behind it: every case here must be settled from the arguments alone. */
const cli = (args: string[], env: NodeJS.ProcessEnv = { TIDEMARK_TABLE_NAME: 'unused' }) => runCli(args, { env });

const key = ['orders-0', '--key', 'k-a'];

/** [arguments, what the first line must say, the usage that must follow]. */
const USAGE_ERRORS: Array<[string[], string | RegExp, string]> = [
  [
    ['frob'],
    'unknown command "frob"; allowed: init, status, split, merge, scale, console, reset, dead-letters, help',
    'tidemark scale  <processor> <segments>',
  ],
  [['help', 'frob'], 'unknown command "frob"', 'tidemark init   [<processor>]'],
  [
    [],
    'missing <command>: one of init, status, split, merge, scale, console, reset, dead-letters, help',
    'tidemark init',
  ],
  [
    ['--bogus'],
    'unknown option --bogus; give a command first (init, status, split, merge, scale, console, reset, dead-letters, help)',
    'tidemark status <processor>',
  ],
  [
    ['init', '--bogus'],
    /^tidemark: unknown option --bogus; allowed: --processor <value>, --segments <value>, --table/,
    'Usage: tidemark init',
  ],
  [
    ['split', 'p', '0/1', '--bogus'],
    /^tidemark: unknown option --bogus; allowed: .*--state-machine <value>/,
    'Usage: tidemark split',
  ],
  [
    ['dead-letters', 'retry', 'p', '--all', '--bogus'],
    /^tidemark: unknown option --bogus; allowed: .*--rate <value>/,
    'Usage: tidemark dead-letters retry',
  ],
  [['status', 'p', '-x'], 'unknown option -x', 'Usage: tidemark status'],
  [
    ['dead-letters', '--bogus'],
    'unknown option --bogus; give a subcommand first (list, show, retry, delete, audit)',
    'tidemark dead-letters list   <processor>',
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
    /^tidemark: unknown option --key; allowed: --table <value>, --endpoint <value>, --region <value>, --help, --json$/,
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
  [
    ['init', 'p', '--endpoint', 'not-a-url'],
    '--endpoint must be an http(s) URL such as http://localhost:8000, got "not-a-url"',
    'Usage: tidemark init',
  ],
  [
    ['init', 'p', '--endpoint', 'ftp://x'],
    '--endpoint must be an http(s) URL such as http://localhost:8000, got "ftp://x"',
    'Usage: tidemark init',
  ],
  [['split', 'p', '0/1', '--endpoint', 'http://'], 'got "http://"', 'Usage: tidemark split'],
  [['dead-letters', 'audit', 'p', '--endpoint=ftp://x'], 'got "ftp://x"', 'Usage: tidemark dead-letters audit'],
  [
    ['status', 'p', '--region', 'Mars'],
    '--region must be an AWS region such as eu-west-1, got "Mars"',
    'Usage: tidemark status',
  ],
  [['init', 'p', '--region', 'eu-west'], 'got "eu-west"', 'Usage: tidemark init'],
  [
    ['dead-letters', 'list', 'p', '--region', 'x'],
    '--region must be an AWS region',
    'Usage: tidemark dead-letters list',
  ],
  [['status', 'p', '--table'], '--table needs a value', 'Usage: tidemark status'],
  [['init', 'p', '--endpoint'], '--endpoint needs a value', 'Usage: tidemark init'],
  [
    ['init', 'p', '--segments', '--table', 'tokens'],
    '--segments needs a value, got an option after it',
    'Usage: tidemark init',
  ],
  [['init', '--processor'], '--processor needs a value', 'Usage: tidemark init'],
  [
    ['status', 'p', '--table', 'ab'],
    /^tidemark: --table must be a DynamoDB table name \(3 to 255 .*\), got "ab"$/,
    'Usage: tidemark status',
  ],
  [['status', 'p', '--table', 'my table'], '--table must be a DynamoDB table name', 'Usage: tidemark status'],
  [
    ['init', 'p', '--segments', '2.5'],
    '--segments must be a whole number from 1 to 2048, got "2.5"',
    'Usage: tidemark init',
  ],
  [
    ['init', 'p', '--segments', 'four'],
    '--segments must be a whole number from 1 to 2048, got "four"',
    'Usage: tidemark init',
  ],
  [
    ['init', 'p', '--segments', '0'],
    '--segments must be a whole number from 1 to 2048, got "0"',
    'Usage: tidemark init',
  ],
  [
    ['init', 'p', '--segments', '2049'],
    '--segments must be a whole number from 1 to 2048, got "2049"',
    'Usage: tidemark init',
  ],
  [
    ['init', 'p', '--segments=-4'],
    '--segments must be a whole number from 1 to 2048, got "-4"',
    'Usage: tidemark init',
  ],
  [['scale', 'p', '1.5'], '<segments> must be a whole number >= 1, got "1.5"', 'Usage: tidemark scale'],
  [
    ['split', 'p', '0/1', '--layout-ttl-ms', 'soon'],
    '--layout-ttl-ms must be a whole number >= 0, got "soon"',
    'Usage: tidemark split',
  ],
  [['init', '--segments', '4'], '--segments needs a processor: pass --processor <name>', 'Usage: tidemark init'],
  [
    ['init', 'a', '--processor', 'b'],
    'two processors named: "a" and --processor "b"; give one',
    'Usage: tidemark init',
  ],
  [['init', 'a', 'b'], 'unexpected argument "b" after <processor>', 'Usage: tidemark init'],
  [
    ['init', '--processor', 'orders view'],
    `--processor must be a processor name (1 to 100 letters, digits, '.', '_' or '-'), got "orders view"`,
    'Usage: tidemark init',
  ],
  [['status', 'orders/view'], '<processor> must be a processor name', 'Usage: tidemark status'],
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
    const { code, text, errors, first } = await cli(args);

    expect(code).toBe(2);
    if (typeof says === 'string') expect(first).toContain(says);
    else expect(first).toMatch(says);
    expect(first).toMatch(/^tidemark: /);
    expect(errors.split('\n')[1]).toBe('');
    expect(errors.split('\n').slice(2).join('\n')).toContain(usage);
    expect(errors).not.toMatch(/^\s+at /m);
    expect(text).toBe('');
  });

  it('names both --table and TIDEMARK_TABLE_NAME when no table is given', async () => {
    for (const args of [
      ['init', 'p'],
      ['init', '--endpoint', 'http://localhost:8000'],
      ['status', 'p'],
      ['dead-letters', 'list', 'p'],
      ['dead-letters', 'retry', 'p', '--all'],
      ['split', 'p', '0/1'],
      ['merge', 'p', '2/3'],
      ['scale', 'p', '4'],
    ]) {
      const { code, first, errors, text } = await cli(args, {});
      expect(code).toBe(2);
      expect(first).toBe('tidemark: no token table: pass --table <name> or set TIDEMARK_TABLE_NAME');
      expect(errors).toContain(`Usage: tidemark ${args[0]}`);
      expect(text).toBe('');
    }
  });

  it('names TIDEMARK_TABLE_NAME when the table name it gives is not one', async () => {
    const { code, first } = await cli(['status', 'p'], { TIDEMARK_TABLE_NAME: 'x' });

    expect(code).toBe(2);
    expect(first).toMatch(/^tidemark: TIDEMARK_TABLE_NAME must be a DynamoDB table name .*, got "x"$/);
  });

  it('checks every argument before it needs a table', async () => {
    const { code, first } = await cli(['dead-letters', 'show', 'p', 'orders'], {});

    expect(code).toBe(2);
    expect(first).toContain('got "orders"');
  });
});
