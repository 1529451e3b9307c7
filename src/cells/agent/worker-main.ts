/**
 * Entry of a worker cell's agent: frames arrive as transferred buffers on the parent port; the host
 * cancels a running guest through the shared flag in workerData (checked by the fuel meter). The capability
 * channel is a port of its own, read synchronously (host-channel.ts).
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { PortHostChannel } from './host-channel.js';
import { joinParts } from '../protocol/index.js';
import { AgentServer } from './server.js';
import type { AgentConfig } from './core.js';

const { config, cancel, capPort, capFlag, parked } = workerData as {
  config: AgentConfig; cancel: SharedArrayBuffer; capPort: MessagePort; capFlag: SharedArrayBuffer; parked?: { counts: SharedArrayBuffer; slot: number; max: number };
};
const port = parentPort!;
const agent = new AgentServer(config, {
  send(parts) {
    const buf = joinParts(parts);
    port.postMessage(buf, [buf.buffer as ArrayBuffer]);
  },
}, {
  onShutdown: () => process.exit(0), cancelFlag: new Int32Array(cancel), channel: new PortHostChannel(capPort, new Int32Array(capFlag)),
  ...(parked === undefined ? {} : { sharedParking: { counts: new Int32Array(parked.counts), slot: parked.slot, max: parked.max } }),
});

port.on('message', (msg: unknown) => {
  if (!(msg instanceof Uint8Array)) throw new Error('cell-protocol-error: a message that is not bytes');
  agent.decoder.push(msg); // a protocol error throws: the worker dies and the host fails its invocations
});
agent.hello();
