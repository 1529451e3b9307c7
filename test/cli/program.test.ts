// The command line's shape (src/cli/program.ts) parsed in-process with recording actions; the
// failure output and exit statuses through the real CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine, type Actions } from '../../src/cli/program.js';
import type { RunFlags } from '../../src/cli/run.js';
import { reportError } from '../../src/cli/report-error.js';
import { UsageError } from '../../src/cli/usage-error.js';
import { IsolaError } from '../../src/index.js';
import { assertFails, isola } from './support.js';

type Call = [keyof Actions, ...unknown[]];

/** What a command line parses to: the action called and its arguments. */
async function parse(...argv: string[]): Promise<Call> {
  let call: Call | undefined;
  const recorder = (name: keyof Actions) => async (...a: unknown[]) => {
    call = [name, ...a];
    return 0;
  };
  const actions = { run: recorder('run'), inspect: recorder('inspect'), compile: recorder('compile') } as Actions;
  await parseCommandLine(argv, actions, () => '0.0.0');
  assert.ok(call, 'no action ran');
  return call;
}

async function runFlags(...argv: string[]): Promise<RunFlags> {
  const [name, , , flags] = await parse('run', ...argv);
  assert.equal(name, 'run');
  return flags as RunFlags;
}

test('run: options before FILE, everything after it goes to the guest', async () => {
  const [name, file, args, flags] = await parse('run', '--fuel', '10', '-W', 'timeout=1s', '--env', 'A=1', '--env', 'B', 'm.wasm', '--fuel', '-1', '--', 'x');
  assert.equal(name, 'run');
  assert.equal(file, 'm.wasm');
  assert.deepEqual(args, ['--fuel', '-1', '--', 'x']);
  assert.deepEqual(flags, {
    invoke: undefined, buffer: undefined, fuel: '10', maxMemory: undefined, maxTableElements: undefined, timeout: undefined,
    W: ['timeout=1s'], backtrace: false, preopens: [], env: ['A=1', 'B'],
  });
});

test('--opt=value, -Wvalue, flags, and options after FILE for inspect and compile', async () => {
  const run = await runFlags('--invoke=f', '-Wfuel=5', '-W', 'max-memory-size=1', '--backtrace', '--max-memory', '1M', 'm.wasm');
  assert.deepEqual([run.invoke, run.W, run.backtrace, run.maxMemory], ['f', ['fuel=5', 'max-memory-size=1'], true, '1M']);
  assert.deepEqual(await parse('compile', 'm.wasm', '-o', 'out', '--fuel'), ['compile', 'm.wasm', { output: 'out', fuel: true, maxMemory: undefined, maxTableElements: undefined }]);
  assert.deepEqual(await parse('inspect', 'm.wasm', '--json'), ['inspect', 'm.wasm', { json: true }]);
});

test('--dir and --dir-ro keep their command-line order across both', async () => {
  const flags = await runFlags('--dir-ro', 'a::/ro', '--dir', 'b', '--dir-ro', 'c', 'm.wasm');
  assert.deepEqual(flags.preopens, [{ spec: 'a::/ro', readOnly: true }, { spec: 'b', readOnly: false }, { spec: 'c', readOnly: true }]);
});

test('usage errors say which command they belong to', async () => {
  const cases: Array<[string[], string, string | null]> = [
    [[], 'missing command', null],
    [['nope'], "unknown command 'nope'", null],
    [['--nope'], "unknown option '--nope'", null],
    [['run', '--nope', 'x'], "unknown option '--nope'", 'run'],
    [['run', '--fuel'], "option '--fuel <n>' argument missing", 'run'],
    [['inspect'], "missing required argument 'file'", 'inspect'],
    [['compile', 'a'], "required option '-o, --output <file>' not specified", 'compile'],
  ];
  for (const [argv, message, command] of cases) {
    await assert.rejects(parse(...argv), (e: unknown) => e instanceof UsageError && e.message === message && ((e.command?.parent ? e.command.name() : null) === command), argv.join(' '));
  }
});

test('help and version', () => {
  const out = isola(['run', '--help']);
  assert.equal(out.status, 0);
  assert.match(out.stdout, /^Usage: isola run \[options\] <file> \[args\.\.\.\]$/m);
  assert.match(out.stdout, /--max-memory <size>/);
  assert.match(isola(['help', 'inspect']).stdout, /^Usage: isola inspect \[options\] <file>$/m);
  assert.match(isola(['--help']).stdout, /^Usage: isola \[options\] \[command\]$/m);
  assert.match(isola(['--version']).stdout, /^isola \d+\.\d+\.\d+\n$/);
  assert.match(isola(['-V']).stdout, /^isola \d+\.\d+\.\d+\n$/);
});

test('through the CLI: a usage error is one error line and a hint, exit 2', () => {
  assertFails(isola([]), 'missing command', { status: 2, usage: true });
  assertFails(isola(['--nope']), "unknown option '--nope'", { status: 2, usage: true });
  assertFails(isola(['run', '--backtrace=yes', 'x']), "unknown option '--backtrace=yes'", { status: 2, usage: true });
  const r = isola(['run', '--nope', 'x']);
  assert.match(r.stderr.split('\n')[1]!, /^usage: isola run \[options\] <file> \[args\.\.\.\] \(see 'isola run --help'\)$/);
});

test('a non-IsolaError is reported as an internal error, exit 70; IsolaErrors as exit 1 or 2', (t) => {
  const written: string[] = [];
  t.mock.method(process.stderr, 'write', (s: string) => {
    written.push(s);
    return true;
  });
  assert.equal(reportError(new TypeError('x is not a function\n    at foo (bar.js:1:1)')), 70);
  assert.equal(reportError(new IsolaError('TRAP', 'wasm trap: unreachable')), 1);
  assert.equal(reportError(new IsolaError('USAGE', 'bad')), 2);
  t.mock.restoreAll();
  assert.deepEqual(written, ['error: internal error: x is not a function at foo (bar.js:1:1)\n', 'error: wasm trap: unreachable\n', 'error: bad\n']);
});
