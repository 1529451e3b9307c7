/**
 * Which of a remote cell's invocations are in the cell, and which one the agent may be running: the host's reading
 * of the agent's answers, PARKED and RESUMED frames (every one of them untrusted: one the agent could not have sent
 * is a protocol error).
 *
 * The agent starts invocations in the order they were sent, each once the one before it answered or parked, and
 * runs one at a time: a parked guest runs again only between frames, after a RESUMED frame, until it parks again or
 * answers. So the invocations the host has not seen pass (answer or park) are the last ones sent, and the first of
 * them, the head, is the only one that can have started, unless a parked one has resumed: then none of them has.
 * The one that may be running (the resumed one, else the head) is the only one that may send output, park or answer.
 */
import { protocolError } from './protocol/index.js';

export interface InCellJob {
  id: number;
  /** 'sent': not seen to start; 'parked': its guest sleeps without holding the thread; 'resumed': running again. */
  state: 'sent' | 'parked' | 'resumed';
  /** Taken back unstarted (RemoteCell.takeBack): it must never run. */
  takenBack: boolean;
}

export class InCell<J extends InCellJob> {
  /** Sent, not seen to start, in the order sent; [0] is the head. */
  readonly sent: J[] = [];
  /** Seen to start (parked, or resumed), not answered. */
  readonly passed = new Map<number, J>();
  resumed: J | null = null;

  constructor(private readonly maxParked: number) {}

  get size(): number {
    return this.sent.length + this.passed.size;
  }

  get parked(): number {
    return this.passed.size - (this.resumed === null ? 0 : 1);
  }

  /** What holds the agent's thread or waits for it (the host may send more while this is under its pipeline depth). */
  get unparked(): number {
    return this.sent.length + (this.resumed === null ? 0 : 1);
  }

  /** The invocation the agent may be running now (or is about to run): the resumed one, else the head. */
  get running(): J | undefined {
    return this.resumed ?? this.sent[0];
  }

  find(id: number): J | undefined {
    return this.passed.get(id) ?? this.sent.find((j) => j.id === id);
  }

  add(job: J): void {
    job.state = 'sent';
    this.sent.push(job);
  }

  /** The running invocation `id`, which sends output, parks or answers (`what` names the frame for the error). */
  runningOne(id: number, what: string): J {
    const job = this.running;
    if (job === undefined || job.id !== id) throw protocolError(`${what} for request ${id}, which is not running`);
    return job;
  }

  /** A PARKED frame. */
  park(id: number): J {
    const job = this.runningOne(id, 'parked frame');
    if (job.takenBack) throw protocolError(`request ${id} ran after its start-by time (it had been taken back)`);
    if (this.parked >= this.maxParked) throw protocolError(`request ${id} parked beyond the cell's maximum of ${this.maxParked} parked invocations`);
    if (job === this.resumed) this.resumed = null;
    else {
      this.sent.shift();
      this.passed.set(id, job);
    }
    job.state = 'parked';
    return job;
  }

  /** A RESUMED frame. */
  resume(id: number): J {
    const job = this.passed.get(id);
    if (job === undefined || job.state !== 'parked') throw protocolError(`resumed frame for request ${id}, which is not parked`);
    if (this.resumed !== null) throw protocolError(`request ${id} resumed while request ${this.resumed.id} runs`);
    job.state = 'resumed';
    this.resumed = job;
    return job;
  }

  /** The running invocation answered. */
  answered(job: J): void {
    if (job === this.resumed) {
      this.resumed = null;
      this.passed.delete(job.id);
    } else if (job === this.sent[0]) {
      this.sent.shift();
    }
  }

  /**
   * Whether `job` has provably never started, given that the host has read everything the cell sent until a
   * moment at which the agent would no longer start it (its start-by time): sent, and not the one that may run.
   */
  neverStarted(job: J): boolean {
    return job.state === 'sent' && job !== this.running;
  }

  /** Empties it (the cell died): those that may have started, and those that never did. */
  clear(): { started: J[]; notStarted: J[] } {
    const running = this.running;
    const started = [...this.passed.values()];
    const notStarted: J[] = [];
    for (const j of this.sent) (j === running ? started : notStarted).push(j);
    this.sent.length = 0;
    this.passed.clear();
    this.resumed = null;
    return { started, notStarted };
  }
}
