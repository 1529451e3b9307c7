// One way to reach NATS for everything isola connects to it for: a key-value store's bucket, and a cluster
// node's state, heartbeats and forwarded requests. The client reconnects forever in the background once
// connected; the first connection is bounded (connectTimeoutMs) and fails with one line saying why.
import { connect, nkeyAuthenticator, type ConnectionOptions, type NatsConnection } from 'nats';
import { oneLine, withTimeout } from './timeout.js';

export interface NatsConnectOptions {
  /** nats://host:port or tls://host:port; several comma-separated. Credentials in the URL are the client's to read. */
  servers: string;
  /** The connection's name, as the NATS server lists it. */
  name: string;
  connectTimeoutMs: number;
  user?: string;
  pass?: string;
  token?: string;
  /** An nkey seed (SU…): the server's nonce is signed with it. */
  nkeySeed?: Uint8Array;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
}

/** close() flushes first: bounded, since a server that is gone may never answer. */
export const closeQuietly = (nc: NatsConnection): Promise<void> => withTimeout(nc.close(), 1000, 'close').catch(() => {});

/** Connects, or throws an Error whose message is one line (unreachable, refused credentials, TLS). */
export async function connectNats(o: NatsConnectOptions): Promise<NatsConnection> {
  const options: ConnectionOptions = {
    servers: o.servers.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    name: o.name,
    timeout: o.connectTimeoutMs,
    waitOnFirstConnect: false,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 10_000,
  };
  if (o.user !== undefined) options.user = o.user;
  if (o.pass !== undefined) options.pass = o.pass;
  if (o.token !== undefined) options.token = o.token;
  if (o.nkeySeed !== undefined) options.authenticator = nkeyAuthenticator(o.nkeySeed);
  if (o.tls !== undefined) options.tls = { ...o.tls };
  const connecting = connect(options);
  try {
    return await withTimeout(connecting, o.connectTimeoutMs, 'connect');
  } catch (err) {
    connecting.then(closeQuietly, () => {}); // a connection made after we gave up is not kept
    const text = oneLine(err);
    throw new Error(/authorization|authentication/i.test(text) ? `credentials refused (${text})` : text);
  }
}
