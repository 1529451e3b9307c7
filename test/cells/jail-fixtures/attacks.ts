// The attacks "as if the first wall had fallen", written once and run through two doors: probe.cjs
// started directly with planJail() (independent of the cells core), and a real `process` cell's
// unsafeEval. Each attack is the body of an async function where `require` loads Node built-ins.
import { spawnCell } from '../../../src/cells/index.js';
import type { Preopen } from '../../../src/capabilities/wasi-p1/index.js';
import { runJailed } from './run-jailed.js';
import type { JailTool } from '../../../src/cells/jail/index.js';

export type Outcome = { ok: true; value: unknown } | { ok: false; error: string };
export interface RunOptions {
  noNodePermissions: boolean;
  preopens?: Preopen[];
}
export type Runner = (body: string, opts: RunOptions) => Promise<Outcome>;

/** planJail() + probe.cjs: the jail alone, built by the tool this machine prefers (or the one named). */
export const viaPlanJail = (tool?: JailTool): Runner => async (body, opts) => {
  const r = await runJailed(body, { noNodePermissions: opts.noNodePermissions, preopens: opts.preopens ?? [] }, tool);
  if (!r.out) throw new Error(`the probe printed nothing (exit ${r.code}, signal ${r.signal}): ${r.stderr}`);
  return r.out.ok ? { ok: true, value: r.out.value } : { ok: false, error: r.out.error ?? '' };
};

/** A real `process` cell (the agent bundle inside the jail), driven through the test-only eval frame. */
export const viaProcessCell: Runner = async (body, opts) => {
  const cell = await spawnCell({
    isolation: 'process', requireJail: true, preopens: opts.preopens ?? [],
    unsafeTestHooks: { eval: true, noNodePermissions: opts.noNodePermissions },
  });
  try {
    const value = await cell.unsafeEval(`(async () => { const require = process.getBuiltinModule; ${body} })()`);
    return { ok: true, value };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  } finally {
    cell.kill();
  }
};

/** Node's permission model refusing an API: where it is on, it stands in front of the kernel for files and processes. */
export const NODE_REFUSED = /ERR_ACCESS_DENIED|Access to this API has been restricted/;
/**
 * The kernel's answer to each kind of attack inside the jail, narrowly: a refusal for another reason (a typo
 * in the attack, a missing binary) must not pass for the wall.
 */
export const KERNEL_REFUSED = {
  /** A host path that is not mounted in the jail. */
  notMounted: /\bENOENT\b/,
  /** A write under the read-only root or a read-only grant; ENOENT where the parent itself is not mounted. */
  notWritable: /\b(EROFS|ENOENT)\b/,
  /** The seccomp filter: no IP socket, no new process (a jail without it, unshare: no route in the empty net namespace). */
  connect: /\b(EPERM|ENETUNREACH)\b/,
  spawn: /\bEPERM\b/,
};

/** Runs an attack on the host, outside every wall: the positive control that the attack itself works. */
export const onHost = async (body: string): Promise<Outcome> => {
  const run = new Function('require', `return (async () => { ${body} })()`) as (req: unknown) => Promise<unknown>;
  try {
    return { ok: true, value: await run(process.getBuiltinModule) };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
};

export const attacks = {
  readFile: (path: string) => `return require('fs').readFileSync(${JSON.stringify(path)}, 'utf8')`,
  readDir: (path: string) => `return require('fs').readdirSync(${JSON.stringify(path)})`,
  writeFile: (path: string) => `require('fs').writeFileSync(${JSON.stringify(path)}, 'x'); return 'written'`,
  unlink: (path: string) => `require('fs').unlinkSync(${JSON.stringify(path)}); return 'deleted'`,
  listPids: () => `return require('fs').readdirSync('/proc').filter((n) => /^\\d+$/.test(n))`,
  connect: (port: number) => `
    const s = require('net').connect(${port}, '127.0.0.1');
    await new Promise((ok, fail) => { s.on('connect', ok); s.on('error', fail); });
    return 'connected'`,
  /** Every way to a set-uid/set-gid file in `dir`: {label: 'done' or the error code}. */
  setIdBits: (dir: string) => `
    const fs = require('fs');
    const dir = ${JSON.stringify(dir)};
    const out = {};
    const attempt = (label, fn) => { try { fn(); out[label] = 'done'; } catch (e) { out[label] = e.code || String(e); } };
    attempt('write', () => fs.writeFileSync(dir + '/plain', '#!/bin/sh\\nid\\n'));
    attempt('chmod 4755', () => fs.chmodSync(dir + '/plain', 0o4755));
    attempt('chmod 2755', () => fs.chmodSync(dir + '/plain', 0o2755));
    attempt('fchmod 6755', () => { const fd = fs.openSync(dir + '/plain', 'r'); try { fs.fchmodSync(fd, 0o6755); } finally { fs.closeSync(fd); } });
    attempt('open O_CREAT 04755', () => fs.closeSync(fs.openSync(dir + '/created-suid', 'w', 0o4755)));
    attempt('open O_CREAT 02755', () => fs.closeSync(fs.openSync(dir + '/created-sgid', 'wx', 0o2755)));
    attempt('mkdir 02755', () => fs.mkdirSync(dir + '/sgid-dir', 0o2755));
    attempt('mkdir', () => fs.mkdirSync(dir + '/dir', 0o755));
    attempt('chmod dir 2755', () => fs.chmodSync(dir + '/dir', 0o2755));
    return out;`,
  spawn: () => `
    const r = require('child_process').spawnSync(process.execPath, ['-e', 'process.exit(0)']);
    if (r.error) throw r.error;
    return 'spawned, status ' + r.status`,
};
