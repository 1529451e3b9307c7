// `npm run fuzz -- --seconds N [--seed S] [--target mutate|fuel] [--out DIR]`
// `npm run fuzz -- --replay FILE.json`   (the case saved there; or --seed S --target T --case I: case I made again)
//
// Seeded and reproducible: case I of seed S is always the same module, options and calls. Cases run in
// a child process (fuzz/child.ts) watched from here: a case that hangs (no progress for HANG_MS) or
// kills its process is a finding like any other. Each finding is written as FILE.wasm + FILE.json
// (at most a few per distinct problem) and printed with the command that replays it.
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSources, makeCase, TARGETS, writeCaseFiles, type Target } from './cases.js';
import type { ChildArgs, ChildMessage } from './child.js';
import { fromRoot } from '../support/project-root.js';

const HANG_MS = 20_000; // the machine is shared: a generous watchdog
const FILES_PER_PROBLEM = 3;

interface Options { seconds: number; seed: number; targets: Target[]; out: string; replay?: string; only?: number }

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 60, seed: Math.floor(Math.random() * 2 ** 32), targets: [...TARGETS], out: join(tmpdir(), 'isola-fuzz') };
  for (let k = 0; k < argv.length; k++) {
    const v = argv[k + 1];
    const need = (): string => {
      if (v === undefined) throw new Error(`${argv[k]} needs a value`);
      k++;
      return v;
    };
    switch (argv[k]) {
      case '--seconds': o.seconds = Number(need()); break;
      case '--seed': o.seed = Number(need()) >>> 0; break;
      case '--target': {
        const t = need() as Target;
        if (!TARGETS.includes(t)) throw new Error(`unknown target ${t} (${TARGETS.join(', ')})`);
        o.targets = [t];
        break;
      }
      case '--out': o.out = need(); break;
      case '--replay': o.replay = need(); break;
      case '--case': o.only = Number(need()); break;
      default: throw new Error(`unknown option ${argv[k]}`);
    }
  }
  if (!(o.seconds > 0)) throw new Error('--seconds must be > 0');
  return o;
}

interface Finding { target: Target; seed: number; index: number; problem: string }

/** Runs cases of one target from `start` until `until` (or case `only`), restarting the child after a hang or crash. */
async function fuzzTarget(target: Target, seed: number, until: number, onFinding: (f: Finding) => void, only?: number, file?: string): Promise<number> {
  let next = only ?? 0;
  let cases = 0;
  while (only === undefined ? Date.now() < until : next === only) {
    const args: ChildArgs = { target, seed, start: next, until, only, file };
    const child = fork(fileURLToPath(new URL('./child.js', import.meta.url)), [JSON.stringify(args)], {
      execArgv: ['--max-old-space-size=1024'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    let current = -1;
    let lastProgress = Date.now();
    let done = false;
    let hung = false;
    child.on('message', (m: ChildMessage) => {
      lastProgress = Date.now();
      if (m.t === 'case') {
        current = m.i;
        cases++;
      } else if (m.t === 'finding') onFinding({ target, seed, index: m.i, problem: m.problem });
      else {
        done = true;
        next = m.next;
      }
    });
    const watchdog = setInterval(() => {
      if (Date.now() - lastProgress > HANG_MS) {
        hung = true;
        child.kill('SIGKILL');
      }
    }, 500);
    const [code, signal] = await new Promise<[number | null, string | null]>((res) => child.on('exit', (c, s) => res([c, s])));
    clearInterval(watchdog);
    if (done && code === 0) continue;
    if (current < 0) throw new Error(`the fuzz child failed before its first case (exit ${code}, ${signal}): ${stderr}`);
    const why = hung ? `hang: no progress for ${HANG_MS / 1000} s` : `crash: the process died (exit ${code}, signal ${signal}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`;
    onFinding({ target, seed, index: current, problem: why });
    next = current + 1;
  }
  return cases;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (o.replay !== undefined) {
    const f = JSON.parse(readFileSync(o.replay, 'utf8')) as Finding;
    o.seed = f.seed;
    o.targets = [f.target];
    o.only = f.index;
  }
  const sources = await loadSources(fromRoot());
  mkdirSync(o.out, { recursive: true });
  const perProblem = new Map<string, number>();
  const findings: Finding[] = [];
  const record = (f: Finding): void => {
    findings.push(f);
    const kind = f.problem.split('\n')[0]!.replace(/\d+/g, 'N').slice(0, 160);
    const n = (perProblem.get(kind) ?? 0) + 1;
    perProblem.set(kind, n);
    let where = '';
    if (n <= FILES_PER_PROBLEM && o.only === undefined) { // (a replay does not write its case again)
      const base = join(o.out, `${f.target}-${f.seed}-${f.index}`);
      writeCaseFiles(base, makeCase(f.target, f.seed, f.index, sources), { ...f });
      where = ` -> ${base}.json (replay: npm run fuzz -- --replay ${base}.json)`;
    }
    console.log(`FINDING ${f.target} seed ${f.seed} case ${f.index}: ${f.problem.slice(0, 400)}${where}`);
  };
  if (o.only !== undefined) {
    console.log(`replaying ${o.targets[0]} seed ${o.seed} case ${o.only}${o.replay ? ` from ${o.replay}` : ''}`);
    await fuzzTarget(o.targets[0]!, o.seed, 0, record, o.only, o.replay);
    console.log(findings.length ? 'the case still fails' : 'the case passes');
    process.exitCode = findings.length ? 1 : 0;
    return;
  }
  console.log(`isola fuzz: seed ${o.seed} (replay any run with --seed ${o.seed}), ${o.seconds} s, targets ${o.targets.join(', ')}, findings in ${o.out}`);
  const share = (o.seconds * 1000) / o.targets.length;
  for (const target of o.targets) {
    const started = Date.now();
    const cases = await fuzzTarget(target, o.seed, started + share, record);
    const seconds = (Date.now() - started) / 1000;
    console.log(`${target}: ${cases} cases in ${seconds.toFixed(1)} s (${(cases / seconds).toFixed(0)}/s), ${findings.filter((f) => f.target === target).length} findings`);
  }
  process.exitCode = findings.length ? 1 : 0;
}

main().catch((e: unknown) => {
  console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 2;
});
