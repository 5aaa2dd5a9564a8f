/** What a request that joined another's execution learns about it. */
export interface Joined {
  /** The request id of the execution joined: its subgraph calls carry that id. */
  leaderRequestId: string;
}

export interface Participant {
  /** The request's own id. */
  requestId: string;
  /** When the request must be done (milliseconds since the epoch). */
  deadline: number;
}

const DEADLINE_PASSED = Symbol('deadline passed');

interface Execution<T> {
  leaderRequestId: string;
  result: Promise<T>;
}

/**
 * Executions in flight, by key: the first request with a key (the leader) executes, and every
 * identical request arriving before it settles (a follower) waits for the same outcome instead
 * of executing again. An entry leaves the moment its execution settles: nothing is kept after,
 * so a later identical request executes anew. Every participant receives its own copy of the
 * result (`copy`), so that what one response does to its result never reaches another.
 */
export class InFlightExecutions<T> {
  readonly #executions = new Map<string, Execution<T>>();
  readonly #copy: (result: T) => T;
  readonly #deadlinePassed: () => T;

  /**
   * @param copy a participant's own copy of the shared result.
   * @param deadlinePassed what a follower answers when its own deadline passes before the
   *   execution it joined settles.
   */
  constructor(options: { copy: (result: T) => T; deadlinePassed: () => T }) {
    this.#copy = options.copy;
    this.#deadlinePassed = options.deadlinePassed;
  }

  /** Requests currently executing, one per key. */
  get size(): number {
    return this.#executions.size;
  }

  /**
   * Executes `execute` for the participant, or joins the identical execution in flight (then
   * `onJoin` says which). A leader's failure is every follower's failure.
   */
  async run(
    key: string,
    participant: Participant,
    execute: () => Promise<T>,
    onJoin: (joined: Joined) => void = () => {},
  ): Promise<T> {
    const inFlight = this.#executions.get(key);
    if (inFlight) {
      onJoin({ leaderRequestId: inFlight.leaderRequestId });
      return this.#copy(await this.#withinDeadline(inFlight.result, participant.deadline));
    }
    const result = execute();
    const execution: Execution<T> = { leaderRequestId: participant.requestId, result };
    this.#executions.set(key, execution);
    const leave = () => {
      if (this.#executions.get(key) === execution) this.#executions.delete(key);
    };
    result.then(leave, leave);
    return this.#copy(await result);
  }

  /** The shared outcome, or the deadline's answer if the follower's own deadline comes first. */
  async #withinDeadline(result: Promise<T>, deadline: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const passed = new Promise<typeof DEADLINE_PASSED>((resolve) => {
      timer = setTimeout(() => resolve(DEADLINE_PASSED), Math.max(0, deadline - Date.now()));
    });
    try {
      const first = await Promise.race([result, passed]);
      return first === DEADLINE_PASSED ? this.#deadlinePassed() : first;
    } finally {
      clearTimeout(timer);
    }
  }
}
