// One fuzzing process: runs cases start, start+1, … of one target until its deadline, telling the
// parent (fuzz/run.ts) which case it starts before running it, so a case that hangs or kills this
// process is still known by its number.
import { fromRoot } from '../support/project-root.js';
import { loadSources, makeCase, readCaseFile, runCase, type Target } from './cases.js';

/** `only`: run that one case; `file`: run the case of that .json (written by writeCaseFiles) instead of making it. */
export interface ChildArgs { target: Target; seed: number; start: number; until: number; only?: number; file?: string }
export type ChildMessage = { t: 'case'; i: number } | { t: 'finding'; i: number; problem: string } | { t: 'done'; next: number };

const send = (m: ChildMessage): void => void process.send!(m);

const args = JSON.parse(process.argv[2]!) as ChildArgs;
const sources = await loadSources(fromRoot());
let i = args.start;
while (args.only === undefined ? Date.now() < args.until : i === args.only) {
  send({ t: 'case', i });
  const problem = runCase(args.file !== undefined ? readCaseFile(args.file) : makeCase(args.target, args.seed, i, sources));
  if (problem !== null) send({ t: 'finding', i, problem });
  i++;
}
send({ t: 'done', next: i });
process.disconnect();
