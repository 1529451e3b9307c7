/**
 * Forwarding: a node at its limit for a function runs the request on another node, over NATS request/reply.
 * ForwardClient (the busy node) sends; ForwardServer (nodes with room) takes requests in a queue group.
 * This comment is the wire contract (version 1); forward-codec.ts implements it.
 *
 * Frame (every message, both ways): kind u8 (ASCII) | seq u32 BE | JSON length u32 BE | JSON | bytes.
 *   Q  client → `isola.<cluster>.invoke.<fn>` (queue group `isola.<cluster>.invoke`), reply `<client inbox>.<id>`.
 *      JSON {v:1, from: node, idle: ms, body: 'whole'|'stream', size: bytes (whole) or -1, more, req: {method, path,
 *      rawPath?, query, route, params, pathInfo, headers, remoteAddr, serverName, serverPort, scheme}}; bytes: the
 *      whole body when more=false (it fits beside the JSON in chunkBytes), else none.
 *   Every later server → client frame goes to that reply subject with reply `<server inbox>.<node>.<id>`, where the
 *   client sends everything else (the client pins it from the first frame; NATS headers are not used).
 *   B  busy (seq 0, nothing else): not taken, nothing ran; the client tries again (`attempts`), then says 'busy'.
 *      NATS's own no-responders status (503, empty) counts as busy too: nobody serves fn.
 *   K  ack: the receiver's consumer took data chunk `seq`. K 0 from the server: accepted, send the body.
 *   D  data chunk `seq` = 1, 2, … (request body client → server, response body server → client), ≤ chunkBytes.
 *      Window: a sender has at most WINDOW (4) chunks unacked; a receiver refuses a chunk out of sequence or past it.
 *      Acks mean consumed: a wasi:http guest's reads pace the request body, the gateway's writes the response.
 *   E  end of a body, seq = last D + 1. Request: JSON {} or {error} (the client's client failed mid-body: the guest's
 *      read fails). Response: JSON {trailers: [[name, value]…] | null}.
 *   H  response head: JSON {status, headers: [[name, value]…], more}; bytes: the whole body when more=false.
 *   X  failure (server → client, before or after H): JSON {code, message}: an IsolaError's code and message, or
 *      INTERNAL for anything else (the client rethrows IsolaError(code, message), or a plain Error for INTERNAL).
 *   P  keepalive, either way, after idle/3 without sending; the server's first one already after 50 ms (a client
 *      cancelling before it heard from the node sends C in answer to the node's first frame). Silence for `idle`
 *      (the client's idleTimeoutMs, sent in Q) ends the request: the client fails it UNAVAILABLE, the server aborts
 *      the local run.
 *   C  cancel (client → server): the caller aborted, the consumer stopped reading, or the client timed out;
 *      the server aborts the local run.
 * A body travels whole in Q/H when it fits in one message (one round trip for a small request), otherwise chunked;
 * a wasi:http request body whose HTTP message is already complete (a GET) also travels in Q. Requests carry no
 * extra header (the guest sees what it would locally; `from` in Q says who forwarded). Any frame a peer sends that
 * breaks these rules fails that request (X / UNAVAILABLE "… sent a malformed forward message: why"); frames for
 * requests that have ended are dropped. Each side holds one subscription for all its requests. Memory per request
 * is bounded: WINDOW chunks each way, plus a whole body as it arrives (announced in Q; above the server's
 * maxBodyBytes it is refused TOO_LARGE); a full window with no ack for stallTimeoutMs fails the request.
 */
export { ForwardClient } from './forward-client.js';
export { ForwardServer } from './forward-server.js';
export type { ForwardOptions } from './forward-options.js';
