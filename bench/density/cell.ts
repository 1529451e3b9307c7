// The memory of one idle jailed cell, and what it is made of: a process cell spawned as the server spawns
// one (spawnCell, the jail of src/cells/jail/), the CGI hello loaded and run once, then 1 s idle. PSS of its
// processes (the jail's bwrap and the node agent), the agent's mappings grouped from /proc/PID/smaps, and
// the private part of each group (what one more cell adds: shared pages such as the node binary's text are
// split between every process that maps them, this bench's own node included), beside an idle plain node.
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { spawnCell } from '../../src/index.js';
import type { Ctx } from './context.js';
import type { Hellos } from './modules.js';
import { comm, fmtMiB, isNode, processTree, rollupKiB, smapsGroups, type Group } from './proc.js';

/** What the server's CGI executor hands a cell per request (as bench/cells.ts). */
const CGI_ENV: Record<string, string> = {
  GATEWAY_INTERFACE: 'CGI/1.1', SERVER_PROTOCOL: 'HTTP/1.1', REQUEST_METHOD: 'GET', SCRIPT_NAME: '/f0', PATH_INFO: '',
  QUERY_STRING: '', SERVER_NAME: '127.0.0.1', SERVER_PORT: '3000', CONTENT_LENGTH: '0', HTTP_HOST: '127.0.0.1:3000',
};

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export async function cellScenario(ctx: Ctx, hello: Hellos): Promise<void> {
  const scenario = 'one idle jailed cell (hello loaded and run once, 1 s idle)';
  ctx.setPhase('spawning a process cell');
  const cell = await spawnCell({ isolation: 'process' });
  const idle = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    if (cell.isolation !== 'process' || cell.pid === undefined) throw new Error(`no jailed cell here (spawnCell gave a ${cell.isolation} cell)`);
    const module = await cell.load({ bytes: hello.bytes(0), compile: { fuel: true } });
    const out = await cell.invoke({
      module, kind: 'wasi', args: ['f0'], env: CGI_ENV, input: new Uint8Array(0), maxOutputBytes: 1 << 20, limits: { fuel: 10_000_000, timeoutMs: 5000 },
    });
    if (!new TextDecoder().decode(out.output).endsWith(hello.expect(0))) throw new Error('the hello printed something else');
    await ctx.sleep(1000);
    const pids = processTree(cell.pid);
    const agent = cell.agentPid ?? pids.find(isNode);
    if (agent === undefined) throw new Error(`no node agent below the cell's launcher ${cell.pid}`);
    let total = 0;
    let others = 0;
    for (const p of pids) {
      const pss = rollupKiB(p) ?? 0;
      total += pss;
      if (p !== agent) others += pss;
    }
    const agentPss = rollupKiB(agent)!;
    const agentRss = rollupKiB(agent, 'Rss')!;
    const groups = smapsGroups(agent, new RegExp(`(^|/)(node|${escape(realpathSync(process.execPath).split('/').pop()!)})$`));
    const privateKiB = [...groups.values()].reduce((a, g) => a + g.privateKiB, 0);
    const idlePss = rollupKiB(idle.pid!) ?? NaN;
    const idlePrivate = smapsGroups(idle.pid!);
    const idlePrivateKiB = [...idlePrivate.values()].reduce((a, g) => a + g.privateKiB, 0);
    const launchers = pids.filter((p) => p !== agent).map(comm).join(' + ') || 'none';
    ctx.rows.push({
      scenario,
      figure: `PSS ${fmtMiB(total)} (agent ${fmtMiB(agentPss)}, ${launchers} ${fmtMiB(others)}); agent RSS ${fmtMiB(agentRss)}, private ${fmtMiB(privateKiB)} `
        + `(what each more cell adds); an idle plain node: PSS ${fmtMiB(idlePss)}, private ${fmtMiB(idlePrivateKiB)}`,
      target: 'report',
      ok: '-',
    });
    const order: Group[] = ['anonymous (V8 heap, malloc, Wasm)', 'malloc heap [heap]', 'node binary', 'shared libraries', 'stacks', 'other files', 'kernel ([vdso], [vvar], …)'];
    const parts = order.filter((g) => groups.has(g) && groups.get(g)!.pssKiB + groups.get(g)!.privateKiB >= 50).map((g) => `${g} ${fmtMiB(groups.get(g)!.pssKiB)} / ${fmtMiB(groups.get(g)!.privateKiB)}`);
    ctx.rows.push({ scenario: 'one idle jailed cell: the agent by mapping, PSS / private', figure: parts.join('; '), target: 'report', ok: '-' });
  } finally {
    cell.kill();
    idle.kill();
  }
}
