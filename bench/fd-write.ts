// One million small fd_write calls from a guest loop (bench/fixtures/
// fd-write-loop.wat) to an OutputCapture-backed stdout, against node:wasi
// writing the same calls to /dev/null. Reported per call.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';
import { Engine, OutputCapture, runWasiCommand } from '../src/index.js';
import { fromRoot } from '../support/project-root.js';
import { alternate, median } from './stats.js';
import { fmtNs, judged, type Benchmark } from './table.js';
import { watToWasm } from './wat.js';

const TARGET_NS = 1000;
const BYTES_PER_CALL = 8;

export const fdWriteBench: Benchmark = async ({ quick }) => {
  const calls = quick ? 200_000 : 1_000_000;
  const wat = readFileSync(fromRoot('bench', 'fixtures', 'fd-write-loop.wat'), 'utf8').replaceAll('__CALLS__', String(calls));
  const bytes = await watToWasm(wat, 'fd-write-loop.wat');

  const compiled = new Engine({ cacheDir: null }).compile(bytes);
  const viaIsola = (): void => {
    const stdout = new OutputCapture(calls * BYTES_PER_CALL);
    const code = runWasiCommand(compiled, { stdout, stderr: null, stdin: null });
    if (code !== 0 || stdout.truncated || stdout.bytes.length !== calls * BYTES_PER_CALL) {
      throw new Error(`isola: exit ${code}, captured ${stdout.bytes.length} bytes`);
    }
  };

  const module = new WebAssembly.Module(bytes);
  const devNull = openSync('/dev/null', 'w');
  const viaNodeWasi = (): void => {
    const wasi = new WASI({ version: 'preview1', args: [], env: {}, stdout: devNull, returnOnExit: true });
    const code = wasi.start(new WebAssembly.Instance(module, wasi.getImportObject() as WebAssembly.Imports));
    if (code !== 0) throw new Error(`node:wasi: exit ${code}`);
  };

  try {
    alternate(1, viaIsola, viaNodeWasi); // warm-up
    const t = alternate(quick ? 2 : 3, viaIsola, viaNodeWasi);
    const a = median(t.a) / calls;
    const b = median(t.b) / calls;
    return [{
      metric: `fd_write x ${calls / 1e6}M (8 bytes) to OutputCapture`,
      isola: `${fmtNs(a)}/call`,
      // No ratio: an in-memory capture against real write(2) calls is not the same work; shown for scale.
      baseline: `${fmtNs(b)}/call node:wasi>/dev/null (for scale: real write(2) calls, not the same work)`,
      ratio: '',
      target: `< ${fmtNs(TARGET_NS)}/call`,
      ...judged(a, '<', TARGET_NS, fmtNs),
    }];
  } finally {
    closeSync(devNull);
  }
};
