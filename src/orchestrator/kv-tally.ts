/**
 * One request's key-value calls for its audit record: counted by store, operation and outcome (a guest may
 * make a thousand calls; the record stays small), and the stores it really used, for grantsUsed.
 */
import type { KvUse } from '../capabilities/keyvalue/host/broker.js';
import type { KvCalls } from './types.js';

export class KvTally {
  readonly calls = new Map<string, KvCalls>();
  /** Stores a call reached (granted ones; a refused open does not count). */
  readonly used = new Set<string>();

  /** Counts a call; true when it is the first of its store, operation and outcome. */
  add(use: KvUse): boolean {
    if (use.outcome !== 'access-denied' && use.outcome !== 'no-such-store' && use.outcome !== 'limit') this.used.add(use.store);
    const key = `${use.store}\0${use.op}\0${use.outcome}`;
    const known = this.calls.get(key);
    if (known !== undefined) {
      known.calls++;
      known.keys += use.keys;
      known.bytes += use.bytes;
      return false;
    }
    this.calls.set(key, { store: use.store, op: use.op, outcome: use.outcome, calls: 1, keys: use.keys, bytes: use.bytes });
    return true;
  }
}
