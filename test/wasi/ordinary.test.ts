// Ordinary WASI programs behave the same through the library and the CLI: hello world, an exit
// status, a stdin filter and a directory walk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputCapture, runWasiCommand } from '../../src/capabilities/wasi-p1/index.js';
import { RUNNERS, compileFixture, tempDir } from './helpers.js';

for (const [via, run] of RUNNERS) {
  test(`${via}: hello.wasm prints hello world`, () => {
    const r = run({ guest: 'hello' });
    assert.deepEqual(r, { code: 0, stdout: 'hello, world\n', stderr: '' });
  });

  test(`${via}: a guest's exit code 7 is the exit status`, () => {
    const r = run({ guest: 'exit7' });
    assert.equal(r.code, 7, r.stderr);
    assert.equal(r.stdout, 'exiting with 7\n');
  });

  test(`${via}: wc.wasm counts the lines and bytes of stdin`, () => {
    assert.equal(run({ guest: 'wc', stdin: 'a\nb\nc' }).stdout, '2 5\n');
    assert.equal(run({ guest: 'wc', stdin: '' }).stdout, '0 0\n');
    const big = 'line of text\n'.repeat(20_000); // many reads of the 4 KiB buffer
    const r = run({ guest: 'wc', stdin: big });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `20000 ${big.length}\n`);
  });

  test(`${via}: tree.wasm walks a preopened directory and prints it sorted`, () => {
    const tmp = tempDir('tree');
    try {
      const d = tmp.path;
      mkdirSync(join(d, 'b/nested/deeper'), { recursive: true });
      mkdirSync(join(d, 'a'));
      writeFileSync(join(d, 'z.txt'), '12345');
      writeFileSync(join(d, 'a/one'), '');
      writeFileSync(join(d, 'b/nested/deeper/leaf'), 'x'.repeat(1000));
      for (let i = 0; i < 150; i++) writeFileSync(join(d, 'b', `f${String(i).padStart(3, '0')}`), 'y');
      symlinkSync('../z.txt', join(d, 'a/link'));
      const r = run({ guest: 'tree', args: ['/data'], dirs: [{ host: d, guest: '/data' }] });
      assert.equal(r.code, 0, r.stderr);
      const files = Array.from({ length: 150 }, (_, i) => `b/f${String(i).padStart(3, '0')} (1 bytes)`);
      const expected = [
        'a/', 'a/link -> ../z.txt', 'a/one (0 bytes)', 'b/', ...files,
        'b/nested/', 'b/nested/deeper/', 'b/nested/deeper/leaf (1000 bytes)', 'z.txt (5 bytes)',
      ];
      assert.deepEqual(r.stdout.trimEnd().split('\n'), expected);
      // The same tree granted through a host path that itself goes through a symlink and ends in '/'.
      const alias = join(tmpdir(), `isola-alias-${process.pid}-${via}`);
      symlinkSync(d, alias);
      try {
        const viaAlias = run({ guest: 'tree', args: ['/data'], dirs: [{ host: `${alias}/`, guest: '/data' }] });
        assert.deepEqual(viaAlias.stdout.trimEnd().split('\n'), expected, viaAlias.stderr);
      } finally {
        unlinkSync(alias);
      }
    } finally {
      tmp.remove();
    }
  });
}

test('library: stdin and stdout can be host descriptors, and a null stdin reads as empty', () => {
  const tmp = tempDir('stdio');
  try {
    const input = join(tmp.path, 'in.txt');
    const output = join(tmp.path, 'out.txt');
    writeFileSync(input, 'one\ntwo\n');
    const inFd = openSync(input, 'r');
    const outFd = openSync(output, 'w');
    try {
      const code = runWasiCommand(compileFixture('wc'), { stdin: inFd, stdout: outFd });
      assert.equal(code, 0);
    } finally {
      closeSync(inFd);
      closeSync(outFd);
    }
    assert.equal(readFileSync(output, 'utf8'), '2 8\n');
    const stdout = new OutputCapture(100);
    assert.equal(runWasiCommand(compileFixture('wc'), { stdin: null, stdout }), 0);
    assert.equal(stdout.text(), '0 0\n');
  } finally {
    tmp.remove();
  }
});
