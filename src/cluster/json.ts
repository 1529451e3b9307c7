// JSON in NATS messages, one home for the cluster's readers and writers (heartbeats, status, logs, forwarding).
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const jsonBytes = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));

/** The JSON object in a message, or why it is not one. */
export function decodeObject(data: Uint8Array, maxBytes = Infinity): Record<string, unknown> | string {
  if (data.byteLength > maxBytes) return `too large (${data.byteLength} bytes)`;
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(data));
  } catch {
    return 'not JSON';
  }
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : 'not a JSON object';
}
