import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgv, UsageError } from '../../src/cli/argv.js';
import { COMMANDS } from '../../src/cli/program.js';
import { reportError } from '../../src/cli/report-error.js';
import { IsolaError } from '../../src/index.js';
import { isola } from './support.js';

const parse = (...argv: string[]) => parseArgv(COMMANDS, argv);

test('run: options before FILE, everything after it goes to the guest', () => {
  const p = parse('run', '--fuel', '10', '-W', 'timeout=1s', '--env', 'A=1', '--env', 'B', 'm.wasm', '--fuel', '-1', '--', 'x');
  assert.equal(p.kind, 'command');
  if (p.kind !== 'command') return;
  assert.deepEqual(p.positionals, ['m.wasm', '--fuel', '-1', '--', 'x']);
  assert.equal(p.options.fuel, '10');
  assert.deepEqual(p.options.W, ['timeout=1s']);
  assert.deepEqual(p.options.env, ['A=1', 'B']);
  assert.deepEqual(p.options.dir, []);
});

test('--opt=value, -Wvalue and flags', () => {
  const p = parse('run', '--invoke=f', '-Wfuel=5', '--backtrace', 'm.wasm');
  assert.ok(p.kind === 'command');
  assert.equal(p.options.invoke, 'f');
  assert.deepEqual(p.options.W, ['fuel=5']);
  assert.equal(p.options.backtrace, true);
  const c = parse('compile', 'm.wasm', '-o', 'out', '--fuel');
  assert.ok(c.kind === 'command');
  assert.deepEqual([c.positionals, c.options.output, c.options.fuel], [['m.wasm'], 'out', true]);
});

test('help and version', () => {
  assert.deepEqual(parse('--help'), { kind: 'help', command: null });
  assert.equal(parse('--version').kind, 'version');
  const h = parse('run', '--help');
  assert.ok(h.kind === 'help' && h.command?.name === 'run');
  const hh = parse('help', 'inspect');
  assert.ok(hh.kind === 'help' && hh.command?.name === 'inspect');
  const out = isola(['run', '--help']);
  assert.equal(out.status, 0);
  assert.match(out.stdout, /^Usage: isola run \[options\] <file> \[args\.\.\.\]$/m);
  assert.match(out.stdout, /--max-memory <size>/);
  assert.match(isola(['--version']).stdout, /^isola \d+\.\d+\.\d+\n$/);
});

test('usage errors say which command they belong to', () => {
  const cases: Array<[string[], string, string | null]> = [
    [[], 'missing command', null],
    [['nope'], "unknown command 'nope'", null],
    [['--nope'], "unknown option '--nope'", null],
    [['run', '--nope', 'x'], "unknown option '--nope'", 'run'],
    [['run', '--fuel'], "option '--fuel <n>' argument missing", 'run'],
    [['run', '--backtrace=yes', 'x'], "option '--backtrace' does not take a value", 'run'],
    [['inspect'], "missing required argument 'file'", 'inspect'],
    [['compile', 'a'], "required option '-o, --output <file>' not specified", 'compile'],
  ];
  for (const [argv, message, command] of cases) {
    assert.throws(() => parse(...argv), (e: unknown) => e instanceof UsageError && e.message === message && (e.command?.name ?? null) === command, argv.join(' '));
  }
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
