// Clocks (realtime, monotonic, process and thread CPU time) and poll_oneoff (relative and
// absolute clock subscriptions, stdin readiness) through the library and the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RUNNERS, assertResults, results } from './helpers.js';

for (const [via, run] of RUNNERS) {
  test(`${via}: clocks.wasm — every clock moves, poll sleeps and wakes on stdin`, () => {
    const r = run({ guest: 'clocks', stdin: 'data\n' });
    assert.equal(r.code, 0, r.stderr);
    const moving = 'OK res>0=1 moves=1';
    assertResults(r, {
      realtime: moving,
      monotonic: moving,
      'process-cputime': moving,
      'thread-cputime': moving,
      'sleep-50ms': 'OK n=1 userdata=7 type=0 in-range=1',
      'past-deadline': 'OK n=1 fast=1',
      'stdin-ready': 'OK fired=1 fast=1',
    }, `${via}: `);
    const guestSeconds = Number(results(r.stdout).get('realtime-s'));
    assert.ok(Math.abs(guestSeconds - Date.now() / 1000) < 10, `realtime ${guestSeconds} vs host ${Date.now() / 1000}`);
  });
}
