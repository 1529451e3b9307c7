/**
 * Entry of a process cell's agent (bundled into dist/bundle/cells/agent.js). The protocol runs over
 * fd 3, a socketpair the host set up, and the capability channel over fd 5 (blocking: read synchronously while a guest runs); the agent's configuration is the last argv entry (JSON).
 * Anything wrong with the channel ends the process: the host sees the exit and fails the invocations.
 */
import { closeSync } from 'node:fs';
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { AgentServer } from './server.js';
import { writeParts } from '../protocol/writer.js';
import { CAP_FD } from '../protocol/cap-channel.js';
import { FdHostChannel } from './host-channel.js';
import type { AgentConfig } from './core.js';

const config = JSON.parse(process.argv[process.argv.length - 1]!) as AgentConfig;
for (const fd of config.closeFds ?? []) closeSync(fd); // before any guest: see AgentConfig.closeFds
// Reads go into one reused 1 MiB buffer: a few large reads per MiB instead of one fresh 64 KiB buffer per read.
// The decoder copies what it keeps (volatileChunks) or writes bulk input straight into guest memory.
const READ_BUFFER = Buffer.allocUnsafe(1 << 20);
const onread: OnReadOpts = {
  buffer: READ_BUFFER,
  callback: (n: number, buf: Uint8Array): boolean => {
    received(buf.subarray(0, n));
    return true;
  },
};
// `onread` works for a Socket made from an fd as for net.connect (Node's types list it only for the latter).
const channel = new Socket({ fd: 3, readable: true, writable: true, onread } as SocketConstructorOpts);
const agent = new AgentServer(config, {
  send: (parts) => writeParts(channel, parts),
  backlogged: () => channel.writableLength > 0,
}, { onShutdown: () => channel.end(() => process.exit(0)), volatileChunks: true, channel: new FdHostChannel(CAP_FD), onFatal: fail });

function received(chunk: Uint8Array): void {
  try {
    agent.decoder.push(chunk);
  } catch (e) {
    fail(e);
  }
}

function fail(e: unknown): void {
  process.stderr.write(`isola cell: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(3);
}
channel.on('end', () => process.exit(0)); // the host went away
channel.on('error', () => process.exit(4));
agent.hello();
