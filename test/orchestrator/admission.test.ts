// Admission on its own: FIFO, bounded, limits read at each admission, waiting requests can leave.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Admission } from '../../src/orchestrator/admission.js';

test('runs up to maxConcurrency, queues up to maxQueue in order, refuses the rest at once', async () => {
  const limits = { maxConcurrency: 2, maxQueue: 2 };
  const a = new Admission('f', () => limits);
  const order: number[] = [];
  const admitted = [0, 1, 2, 3].map((i) => a.acquire().then(() => order.push(i)));
  await assert.rejects(a.acquire(), { code: 'OVERLOADED', message: 'function f is overloaded (2 running, 2 waiting)' });
  await Promise.all(admitted.slice(0, 2));
  assert.deepEqual([a.running, a.queued], [2, 2]);
  a.release();
  await admitted[2];
  a.release();
  await admitted[3];
  assert.deepEqual(order, [0, 1, 2, 3], 'first come, first served');
  assert.deepEqual([a.running, a.queued], [2, 0]);
  // A raised limit admits waiting requests at the next release.
  const w1 = a.acquire();
  const w2 = a.acquire();
  limits.maxConcurrency = 4;
  a.release();
  await Promise.all([w1, w2]);
  assert.deepEqual([a.running, a.queued], [3, 0]);
});

test('maxQueue 0 refuses as soon as all slots run; a waiter that aborts leaves the queue; rejectWaiting fails the rest', async () => {
  const none = new Admission('g', () => ({ maxConcurrency: 1, maxQueue: 0 }));
  await none.acquire();
  await assert.rejects(none.acquire(), { code: 'OVERLOADED' });

  const a = new Admission('h', () => ({ maxConcurrency: 1, maxQueue: 5 }));
  await a.acquire();
  const ac = new AbortController();
  const leaving = a.acquire(ac.signal);
  const staying = a.acquire();
  ac.abort();
  await assert.rejects(leaving, { code: 'CANCELLED' });
  assert.equal(a.queued, 1);
  const aborted = new AbortController();
  aborted.abort();
  await assert.rejects(a.acquire(aborted.signal), { code: 'CANCELLED' });
  a.rejectWaiting(new Error('gone'));
  await assert.rejects(staying, { message: 'gone' });
  assert.equal(a.queued, 0);
});
