// The one error → HTTP mapping: status, the client-visible reason (guest-caused messages only), the outcome.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IsolaError, type IsolaErrorCode } from '../../src/errors.js';
import { errorResponse, errorTextFor, httpStatusFor, outcomeDetailFor, outcomeFor } from '../../src/orchestrator/http-status.js';
import { text } from './helpers.js';

const err = (code: IsolaErrorCode, message = `${code} happened`, detail: Record<string, unknown> = {}) => new IsolaError(code, message, detail);

test('statuses by code', () => {
  const expected: Array<[IsolaErrorCode, number]> = [
    ['NOT_FOUND', 404], ['TOO_LARGE', 413], ['OVERLOADED', 503], ['CELL_CLOSED', 503], ['TIMEOUT', 504], ['MANIFEST', 400],
    ['CONFLICT', 409], ['TRAP', 500], ['FUEL', 500], ['MEMORY_LIMIT', 500], ['CELL_CRASHED', 500], ['CELL_PROTOCOL', 500],
    ['BAD_RESPONSE', 500], ['IO', 500], ['JAIL', 500], ['CANCELLED', 499],
  ];
  for (const [code, status] of expected) assert.equal(httpStatusFor(err(code)), status, code);
  assert.equal(httpStatusFor(new Error('bug')), 500);
});

test('outcomes and details for the audit record', () => {
  assert.deepEqual([outcomeFor(err('TRAP', 'wasm trap: unreachable', { kind: 'unreachable' })), outcomeDetailFor(err('TRAP', 'x', { kind: 'unreachable' }))], ['trap', 'unreachable']);
  const cases: Array<[IsolaErrorCode, string]> = [
    ['FUEL', 'fuel'], ['TIMEOUT', 'timeout'], ['MEMORY_LIMIT', 'memory'], ['CELL_CRASHED', 'crash'], ['CELL_PROTOCOL', 'crash'],
    ['OVERLOADED', 'overloaded'], ['CANCELLED', 'cancelled'], ['BAD_RESPONSE', 'error'], ['IO', 'error'],
  ];
  for (const [code, outcome] of cases) {
    assert.equal(outcomeFor(err(code)), outcome, code);
    assert.equal(outcomeDetailFor(err(code)), code);
  }
  assert.deepEqual([outcomeFor(new TypeError('x')), outcomeDetailFor(new TypeError('x'))], ['error', 'internal']);
});

test('client-visible reasons: guest-caused messages as one printable line; host errors and bugs are "internal error"', () => {
  assert.equal(errorTextFor(err('TRAP', 'wasm trap: unreachable')), 'wasm trap: unreachable');
  assert.equal(errorTextFor(err('CELL_CRASHED', 'cell crashed (signal SIGKILL)')), 'cell crashed (signal SIGKILL)');
  assert.equal(errorTextFor(err('IO', 'cannot read /home/me/.isola/functions/x: EACCES')), 'internal error');
  assert.equal(errorTextFor(err('JAIL', 'bwrap: /usr/bin/bwrap failed')), 'internal error');
  assert.equal(errorTextFor(new Error('at /srv/x.js:1')), 'internal error');
  assert.equal(errorTextFor(err('TRAP', 'line one\nline two')), 'line one');
  assert.equal(errorTextFor(err('BAD_RESPONSE', 'caf\u00e9\x01')), 'caf??');
  assert.equal(errorTextFor(err('TRAP', 'x'.repeat(500))).length, 200);
});

test('errorResponse: short text/plain, reason in x-isola-error, retry-after on 503', () => {
  const r = errorResponse(err('OVERLOADED', 'function f is overloaded (1 running, 0 waiting)'));
  assert.equal(r.status, 503);
  assert.deepEqual(r.headers, [
    ['content-type', 'text/plain; charset=utf-8'], ['x-isola-error', 'function f is overloaded (1 running, 0 waiting)'], ['retry-after', '1'],
  ]);
  assert.equal(text(r.body), 'function f is overloaded (1 running, 0 waiting)\n');
  const trap = errorResponse(err('TRAP', 'wasm trap: unreachable'));
  assert.equal(trap.status, 500);
  assert.equal(trap.headers.find(([k]) => k === 'retry-after'), undefined);
});
