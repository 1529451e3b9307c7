/**
 * Entry of a worker cell's agent: frames arrive as transferred buffers on the parent port; the host
 * cancels a running guest through the shared flag in workerData (checked by the fuel meter).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { joinParts } from '../protocol/index.js';
import { AgentServer } from './server.js';
import type { AgentConfig } from './core.js';

const { config, cancel } = workerData as { config: AgentConfig; cancel: SharedArrayBuffer };
const port = parentPort!;
const agent = new AgentServer(config, {
  send(parts) {
    const buf = joinParts(parts);
    port.postMessage(buf, [buf.buffer as ArrayBuffer]);
  },
}, () => process.exit(0), new Int32Array(cancel));

port.on('message', (msg: unknown) => {
  if (!(msg instanceof Uint8Array)) throw new Error('cell-protocol-error: a message that is not bytes');
  agent.decoder.push(msg); // a protocol error throws: the worker dies and the host fails its invocations
});
agent.hello();
