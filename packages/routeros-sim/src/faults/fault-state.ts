/** Faults a simulated router can be told to show, switched while it runs. */
export interface FaultState {
  /** Milliseconds to wait before answering each command. */
  latencyMs: number;
  /** Accept connections and read commands, but never answer. */
  hang: boolean;
  /** Write half of the next reply sentence, then drop the connection. */
  dropMidSentence: boolean;
  /** Answer the next command with `!fatal` and close (once). */
  fatalNext: boolean;
  /** Write replies this many bytes at a time (0 = whole sentences). */
  fragmentBytes: number;
  /**
   * 0 = off; N = the Nth command after this is set gets `!trap` category 4 'simulated failure' (once).
   * Counted are menu commands on any connection of the router, not /login, /cancel, /quit or `#`.
   */
  trapOnCommand: number;
  /** Every login fails, as with a wrong password. */
  loginFailure: boolean;
}

export function noFaults(): FaultState {
  return {
    latencyMs: 0,
    hang: false,
    dropMidSentence: false,
    fatalNext: false,
    fragmentBytes: 0,
    trapOnCommand: 0,
    loginFailure: false,
  };
}

/**
 * The faults of one router. Setting trapOnCommand starts its count again, so "the Nth command after
 * this is set" holds however often it is set.
 */
export class Faults implements FaultState {
  latencyMs = 0;
  hang = false;
  dropMidSentence = false;
  fatalNext = false;
  fragmentBytes = 0;
  loginFailure = false;
  #trapOnCommand = 0;
  #commandsSinceTrapSet = 0;

  get trapOnCommand(): number {
    return this.#trapOnCommand;
  }

  set trapOnCommand(value: number) {
    this.#trapOnCommand = value;
    this.#commandsSinceTrapSet = 0;
  }

  /** Counts a command; true when it is the one that must fail (the fault then switches off). */
  takeTrap(): boolean {
    if (this.#trapOnCommand <= 0) return false;
    this.#commandsSinceTrapSet++;
    if (this.#commandsSinceTrapSet < this.#trapOnCommand) return false;
    this.trapOnCommand = 0;
    return true;
  }

  /** True once after fatalNext was set. */
  takeFatal(): boolean {
    if (!this.fatalNext) return false;
    this.fatalNext = false;
    return true;
  }

  assign(state: Partial<FaultState>): void {
    const { trapOnCommand, ...rest } = state;
    Object.assign(this, rest);
    if (trapOnCommand !== undefined) this.trapOnCommand = trapOnCommand;
  }
}
