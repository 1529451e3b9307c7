/**
 * The capability channel: a second framed stream per cell, beside the control channel, on which a running
 * guest's capability code (wasi:http's bodies, later key-value) talks to its host. Its frames are the
 * control channel's (`[u32 length][u8 type][u32 requestId][payload]`), with payload `[u8 op][bytes]`:
 * CAP_SEND one way, CAP_CALL answered by one CAP_REPLY while the guest waits. It is a separate stream because
 * the agent reads it synchronously, in the middle of a guest's run, which the control channel's event-driven
 * reader cannot: a process cell's end is a blocking descriptor (fd 5), a worker's a MessagePort it reads with
 * receiveMessageOnPort after an Atomics.wait. The request id is the invocation's; only the running one may
 * use the channel, one call at a time.
 */
import { FrameType, HEADER_BYTES, writeHeader } from './frame.js';
import { protocolError } from './codec.js';
import { MAX_CAP_DATA } from '../../capabilities/capability-frames.js';

/** The child fd of a process cell's capability channel (3 is the control channel, 4 bwrap's seccomp program, 10+ pinned mounts). */
export const CAP_FD = 5;
export { MAX_CAP_DATA };
/** The largest capability frame, header included. */
export const MAX_CAP_FRAME_BYTES = HEADER_BYTES + 1 + MAX_CAP_DATA;

/** A capability frame's header and op byte (the data follows as its own part). */
export function capHead(type: number, requestId: number, op: number, dataLength: number): Uint8Array {
  if (dataLength > MAX_CAP_DATA) throw protocolError(`capability frame data of ${dataLength} bytes exceeds ${MAX_CAP_DATA}`);
  const head = new Uint8Array(HEADER_BYTES + 1);
  writeHeader(head, type as FrameType, requestId, dataLength + 1);
  head[HEADER_BYTES] = op;
  return head;
}

/** The op and data of a CAP_CALL or CAP_SEND payload. */
export function capPayload(payload: Uint8Array): { op: number; data: Uint8Array } {
  if (payload.length < 1) throw protocolError('capability frame without an op');
  return { op: payload[0]!, data: payload.subarray(1) };
}
