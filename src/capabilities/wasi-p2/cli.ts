/** wasi:cli (environment, exit, stdio, terminals), wasi:random and a denied wasi:sockets, over the bridge. */
import { randomBytes } from 'node:crypto';
import { IsolaError } from '../../errors.js';
import { DATA, OUT, type P1Bridge, P2Error } from './p1-bridge.js';
import { InputStream, OutputStream, type Clocks } from './io.js';

/** argv or environ from preview 1's *_sizes_get and *_get. */
function stringList(p1: P1Bridge, sizes: string, get: string): string[] {
  p1.call(sizes, OUT, OUT + 4);
  const count = p1.u32(OUT);
  const size = p1.u32(OUT + 4);
  p1.reserve(count * 4 + size);
  p1.call(get, DATA, DATA + count * 4);
  const text = Buffer.from(p1.bytes(DATA + count * 4, size)).toString('utf8');
  return count === 0 ? [] : text.slice(0, -1).split('\0');
}

export function cliImports(p1: P1Bridge, clocks: Clocks): Record<string, Record<string, unknown>> {
  class TerminalInput {}
  class TerminalOutput {}
  return {
    'wasi:cli/environment': {
      getEnvironment: () => stringList(p1, 'environ_sizes_get', 'environ_get').map((kv) => {
        const eq = kv.indexOf('=');
        return eq < 0 ? [kv, ''] : [kv.slice(0, eq), kv.slice(eq + 1)];
      }),
      getArguments: () => stringList(p1, 'args_sizes_get', 'args_get'),
      initialCwd: () => undefined,
    },
    'wasi:cli/exit': {
      exit: (status: { tag: 'ok' | 'err' }) => p1.call('proc_exit', status.tag === 'ok' ? 0 : 1),
      exitWithCode: (code: number) => p1.call('proc_exit', code),
    },
    'wasi:cli/stdin': { getStdin: () => new InputStream(p1, clocks, 0, null) },
    'wasi:cli/stdout': { getStdout: () => new OutputStream(p1, clocks, 1, null) },
    'wasi:cli/stderr': { getStderr: () => new OutputStream(p1, clocks, 2, null) },
    // No terminal is ever granted: every stream "is not a terminal".
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
  };
}

/** More than a guest can mean to ask for at once; beyond it the call traps instead of allocating. */
const MAX_RANDOM_BYTES = 16 * 1024 * 1024;

function random(len: bigint): Uint8Array {
  if (len > BigInt(MAX_RANDOM_BYTES)) throw new IsolaError('TRAP', `wasm trap: get-random-bytes asked for ${len} bytes (at most ${MAX_RANDOM_BYTES})`, { kind: 'random' });
  return new Uint8Array(randomBytes(Number(len)));
}
const u64 = (): bigint => randomBytes(8).readBigUInt64LE();

export function randomImports(): Record<string, Record<string, unknown>> {
  return {
    'wasi:random/random': { getRandomBytes: random, getRandomU64: u64 },
    'wasi:random/insecure': { getInsecureRandomBytes: random, getInsecureRandomU64: u64 },
    'wasi:random/insecure-seed': { insecureSeed: () => [u64(), u64()] },
  };
}

const SOCKET_INTERFACES = ['network', 'instance-network', 'tcp', 'tcp-create-socket', 'udp', 'udp-create-socket', 'ip-name-lookup'];

/**
 * wasi:sockets: no network is ever granted. Every function answers access-denied (a resource constructor
 * too; no socket can ever exist), so a guest built with socket support links and fails where it connects.
 */
export function deniedSockets(): Record<string, Record<string, unknown>> {
  const denied = (): never => {
    throw new P2Error('access-denied');
  };
  const anything = new Proxy({}, {
    has: () => true,
    get: (_t, name) => (typeof name === 'string' ? denied : undefined),
  });
  return Object.fromEntries(SOCKET_INTERFACES.map((i) => [`wasi:sockets/${i}`, anything]));
}
