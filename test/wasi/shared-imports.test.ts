// The import implementations are shared by every WasiP1 of the process; each guest only gets a small
// object that binds its own context. Two guests alive at once (a reactor kept while another request
// runs, or a host interleaving calls) must never see each other's argv, environ, descriptors, output
// or exit code. Also: OutputCapture allocates nothing until written to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutputCapture, WasiExit, WasiP1 } from '../../src/capabilities/wasi-p1/index.js';
import { E, Guest } from './unit-harness.js';

/** argv or environ as the guest reads it: the sizes call, then the get call, strings split at NULs. */
function strings(g: Guest, which: 'args' | 'environ'): string[] {
  const sizes = g.alloc(8);
  assert.equal(g.w[`${which}_sizes_get`]!(sizes, sizes + 4), E.SUCCESS);
  const count = g.u32(sizes);
  const size = g.u32(sizes + 4);
  const ptrs = g.alloc(count * 4);
  const buf = g.alloc(size);
  assert.equal(g.w[`${which}_get`]!(ptrs, buf), E.SUCCESS);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const p = g.u32(ptrs + i * 4);
    const end = g.u8.indexOf(0, p);
    out.push(g.text(p, end - p));
  }
  return out;
}

test('two guests alive at once, calls interleaved: each sees only its own argv, environ, stdio and exit code', () => {
  const outA = new OutputCapture(1024);
  const outB = new OutputCapture(1024);
  const errB = new OutputCapture(1024);
  const a = new Guest({ args: ['a', 'first'], env: { WHO: 'a', ONLY_A: '1' }, stdout: outA, stdin: new TextEncoder().encode('input of a') });
  const b = new Guest({ args: ['b'], env: { WHO: 'b' }, stdout: outB, stderr: errB });

  // The import objects are distinct, and so are their functions.
  assert.notEqual(a.w, b.w);
  assert.notEqual(a.w.fd_write, b.w.fd_write);

  for (let round = 0; round < 3; round++) {
    assert.equal(a.write(1, `a${round} `).errno, E.SUCCESS);
    assert.equal(b.write(1, `b${round} `).errno, E.SUCCESS);
    assert.deepEqual(strings(b, 'args'), ['b']);
    assert.deepEqual(strings(a, 'environ'), ['WHO=a', 'ONLY_A=1']);
    assert.deepEqual(strings(a, 'args'), ['a', 'first']);
    assert.deepEqual(strings(b, 'environ'), ['WHO=b']);
    assert.equal(b.write(2, 'e').errno, E.SUCCESS);
  }
  assert.equal(new TextDecoder().decode(outA.bytes), 'a0 a1 a2 ');
  assert.equal(new TextDecoder().decode(outB.bytes), 'b0 b1 b2 ');
  assert.equal(new TextDecoder().decode(errB.bytes), 'eee');
  // a's stderr was never given: its writes are discarded, not sent to b's.
  assert.equal(a.write(2, 'lost').n, 4);
  assert.equal(new TextDecoder().decode(errB.bytes), 'eee');

  // stdin: b has none (EOF), a reads its own.
  assert.equal(b.read(0).text, '');
  assert.equal(a.read(0).text, 'input of a');

  // Descriptors: closing b's stdout leaves a's alone.
  assert.equal(b.w.fd_close!(1), E.SUCCESS);
  assert.equal(b.write(1, 'x').errno, E.BADF);
  assert.equal(a.write(1, 'still').errno, E.SUCCESS);
  assert.equal(new TextDecoder().decode(outA.bytes), 'a0 a1 a2 still');

  // Each guest reads its own memory: a pointer valid in a's 2 pages but not bound in an unbound guest.
  const unbound = new WasiP1({ env: { WHO: 'c' } });
  assert.equal(unbound.imports.wasi_snapshot_preview1.environ_sizes_get!(0, 4), E.FAULT);
  assert.deepEqual(strings(a, 'environ'), ['WHO=a', 'ONLY_A=1']);

  // proc_exit: only the guest that exited records a code.
  assert.throws(() => a.w.proc_exit!(7), (e: unknown) => e instanceof WasiExit && e.exitCode === 7);
  assert.equal(a.wasi.exitCode, 7);
  assert.equal(b.wasi.exitCode, null);
  assert.throws(() => b.w.proc_exit!(3), (e: unknown) => e instanceof WasiExit && e.exitCode === 3);
  assert.deepEqual([a.wasi.exitCode, b.wasi.exitCode], [7, 3]);
  a.wasi.close();
  b.wasi.close();
});

test('every guest gets the same full set of import names, each mapping errors to an errno', () => {
  const a = new WasiP1({}).imports.wasi_snapshot_preview1;
  const b = new WasiP1({}).imports.wasi_snapshot_preview1;
  assert.deepEqual(Object.keys(a), Object.keys(b));
  assert.equal(Object.keys(a).length, 46);
  for (const name of Object.keys(a)) assert.equal(typeof a[name], 'function', name);
  // A host error (fail(E.BADF) inside) comes out as an errno, not an exception.
  assert.equal(a.fd_close!(99), E.BADF);
  assert.equal(a.fd_renumber!(98, 99), E.BADF);
  assert.equal(a.sock_shutdown!(1, 0), E.NOTSOCK);
});

test('argv and environ are checked when the guest is made, whatever the guest later asks', () => {
  assert.throws(() => new WasiP1({ args: ['a\0b'] }), /arguments cannot contain NUL/);
  assert.throws(() => new WasiP1({ env: { 'A=B': 'x' } }), /invalid environment variable/);
  assert.throws(() => new WasiP1({ env: { A: 'x\0y' } }), /invalid environment variable/);
  // Multi-byte text: sizes count bytes, and the pointers land on each string.
  const g = new Guest({ args: ['ü', '', '€uro'], env: { 'É': 'ß', EMPTY: '' } });
  assert.deepEqual(strings(g, 'args'), ['ü', '', '€uro']);
  assert.deepEqual(strings(g, 'environ'), ['É=ß', 'EMPTY=']);
  const sizes = g.alloc(8);
  g.w.args_sizes_get!(sizes, sizes + 4);
  assert.deepEqual([g.u32(sizes), g.u32(sizes + 4)], [3, 3 + 1 + 7]);
});

test('OutputCapture: nothing allocated before a write; sized to the first write; growth, cap and clear unchanged', () => {
  const idle = new OutputCapture(16 * 1024 * 1024);
  assert.equal(idle.bytes.length, 0);
  assert.equal(idle.truncated, false);
  assert.equal(idle.text(), '');
  assert.equal((idle as unknown as { buf: Uint8Array | null }).buf, null);

  const big = new Uint8Array(5000).map((_, i) => i & 0xff);
  const c = new OutputCapture(1 << 20);
  c.write(big, 0, big.length);
  assert.ok((c as unknown as { buf: Uint8Array }).buf.length >= 5000);
  assert.deepEqual(c.bytes, big);
  for (let i = 0; i < 100; i++) c.write(big, i, 3); // tiny writes after a big one
  assert.equal(c.bytes.length, 5300);
  assert.deepEqual(c.bytes.subarray(5000, 5003), big.subarray(0, 3));
  assert.deepEqual(c.bytes.subarray(5297), big.subarray(99, 102));

  const capped = new OutputCapture(10);
  capped.write(big, 0, 4);
  capped.write(big, 4, 100);
  assert.deepEqual(capped.bytes, big.subarray(0, 10));
  assert.equal(capped.truncated, true);
  assert.ok((capped as unknown as { buf: Uint8Array }).buf.length <= 10);
  capped.clear();
  assert.equal(capped.bytes.length, 0);
  assert.equal(capped.truncated, false);
  capped.write(big, 20, 2);
  assert.deepEqual(capped.bytes, big.subarray(20, 22));

  const zero = new OutputCapture(0);
  zero.write(big, 0, 1);
  assert.equal(zero.bytes.length, 0);
  assert.equal(zero.truncated, true);
});
