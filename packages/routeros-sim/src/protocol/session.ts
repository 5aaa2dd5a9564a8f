import { legacyLoginResponse, parseCommand, type Command } from '@fleet/routeros-wire';
import type { Faults } from '../faults/fault-state.js';
import type { RouterFacts } from '../menus/definition.js';
import type { RouterConfig } from '../menus/router-config.js';
import type { Job, ReplyWriter, RouterActions } from './command-context.js';
import { runMenuCommand } from './dispatch.js';
import { Category, CommandError, Messages } from './errors.js';
import { fatalWords, replyWords, trapWords } from './replies.js';

/** Most sentences a client may send before it has logged in; one more is a `!fatal`. */
export const MAX_SENTENCES_BEFORE_LOGIN = 10;

/** What a session needs of its router. */
export interface SessionRouter {
  readonly facts: RouterFacts;
  readonly config: RouterConfig;
  readonly faults: Faults;
  readonly actions: RouterActions;
  /** A fresh 16-byte challenge, as 32 hex digits, for the pre-6.43 login. */
  nextChallenge(): string;
}

/** Where a session's replies go: the connection. */
export interface SessionOutput {
  send(words: readonly string[]): void;
  /** Closes the connection once everything sent so far is written. */
  close(): void;
}

interface Running {
  readonly tag: string | undefined;
  readonly job: Job;
  readonly writer: TaggedWriter;
}

interface TaggedWriter extends ReplyWriter {
  readonly finished: boolean;
}

/**
 * One API connection's conversation, without the socket: login, tags, commands that keep running,
 * /cancel, /quit and the keepalive. Sentences come in through handle(); replies go out through the
 * output, one sentence at a time.
 */
export class Session {
  readonly #router: SessionRouter;
  readonly #output: SessionOutput;
  #loggedIn = false;
  #sentencesBeforeLogin = 0;
  #challenge: string | undefined;
  #running: Running[] = [];
  #closed = false;

  constructor(router: SessionRouter, output: SessionOutput) {
    this.#router = router;
    this.#output = output;
  }

  get loggedIn(): boolean {
    return this.#loggedIn;
  }

  handle(words: readonly string[]): void {
    if (this.#closed) return;
    const command = parseCommand(words);
    if (this.#router.faults.takeFatal()) return this.#fatal(Messages.simulatedFailure);
    if (!this.#loggedIn) return this.#beforeLogin(command);
    switch (command.path) {
      case '/login':
        return this.#login(command);
      case '/quit':
        return this.#fatal(Messages.sessionTerminated);
      case '/cancel':
        return this.#cancel(command);
      case '#':
        return this.#writer(command.tag).done();
      default:
        return this.#run(command);
    }
  }

  /** The connection is gone: stop every running command. */
  dispose(): void {
    this.#closed = true;
    for (const { job } of this.#running) job.stop();
    this.#running = [];
  }

  #send(words: readonly string[]): void {
    if (!this.#closed) this.#output.send(words);
  }

  #fatal(reason: string): void {
    this.#send(fatalWords(reason));
    this.dispose();
    this.#output.close();
  }

  #trap(tag: string | undefined, message: string, category?: number): void {
    this.#send(trapWords(tag, message, category));
    this.#writer(tag).done();
  }

  #writer(tag: string | undefined): TaggedWriter {
    let finished = false;
    const writer: TaggedWriter = {
      get finished() {
        return finished;
      },
      re: (attributes) => {
        if (!finished) this.#send(replyWords('!re', tag, attributes));
      },
      empty: () => {
        if (!finished) this.#send(replyWords('!empty', tag));
      },
      done: (attributes) => {
        if (finished) return;
        finished = true;
        this.#running = this.#running.filter((running) => running.writer !== writer);
        this.#send(replyWords('!done', tag, attributes));
      },
    };
    return writer;
  }

  #beforeLogin(command: Command): void {
    this.#sentencesBeforeLogin++;
    if (this.#sentencesBeforeLogin > MAX_SENTENCES_BEFORE_LOGIN)
      return this.#fatal(Messages.tooManyBeforeLogin);
    if (command.path === '/login') return this.#login(command);
    if (command.path === '/quit') return this.#fatal(Messages.sessionTerminated);
    this.#fatal(Messages.notLoggedIn);
  }

  /**
   * 6.43+: `/login =name= =password=`. Pre-6.43 (and still 6.49): `/login` gets a challenge in
   * `=ret=`, answered by `/login =name= =response=00<md5>`. A 6.42 router ignores a password and
   * answers with a challenge, as real ones did.
   */
  #login(command: Command): void {
    const { profile } = this.#router.facts;
    const name = command.attributes.get('name');
    const response = command.attributes.get('response');
    const writer = this.#writer(command.tag);
    let accepted = false;
    if (response !== undefined) {
      const challenge = this.#challenge;
      this.#challenge = undefined;
      const password = this.#passwordOf(name);
      accepted =
        profile.challengeLogin &&
        challenge !== undefined &&
        password !== undefined &&
        legacyLoginResponse(password, challenge) === response.toLowerCase();
    } else if (profile.plainLogin && name !== undefined) {
      const password = this.#passwordOf(name);
      accepted = password !== undefined && password === (command.attributes.get('password') ?? '');
    } else if (profile.challengeLogin) {
      this.#challenge = this.#router.nextChallenge();
      writer.done({ ret: this.#challenge });
      return;
    }
    if (accepted && !this.#router.faults.loginFailure) {
      this.#loggedIn = true;
      writer.done();
      return;
    }
    this.#send(trapWords(command.tag, profile.loginFailureMessage));
    writer.done();
  }

  /** The password of an enabled user of that name; undefined when there is none. */
  #passwordOf(name: string | undefined): string | undefined {
    const user = this.#router.config
      .store('/user')
      .rows()
      .find((row) => row.values.name === name && row.values.disabled !== 'true');
    return user && (user.values.password ?? '');
  }

  /**
   * `/cancel =tag=T` stops the command tagged T; without `=tag=` every running command. Replies in
   * the captured order: `!trap` (T, category 2, interrupted), `!done` of the cancel, `!done` (T).
   */
  #cancel(command: Command): void {
    const target = command.attributes.get('tag');
    const victims =
      target === undefined ? [...this.#running] : this.#running.filter((running) => running.tag === target);
    if (target !== undefined && victims.length === 0) return this.#trap(command.tag, Messages.noSuchTag);
    for (const victim of victims) {
      victim.job.stop();
      this.#send(trapWords(victim.tag, Messages.interrupted, Category.interrupted));
    }
    this.#writer(command.tag).done();
    for (const victim of victims) victim.writer.done();
  }

  #run(command: Command): void {
    if (this.#router.faults.takeTrap()) {
      return this.#trap(command.tag, Messages.simulatedFailure, Category.generalFailure);
    }
    const writer = this.#writer(command.tag);
    try {
      const job = runMenuCommand(
        command.path,
        { attributes: command.attributes, queries: command.queries },
        {
          config: this.#router.config,
          facts: this.#router.facts,
          actions: this.#router.actions,
          reply: writer,
        },
      );
      if (job && !writer.finished) this.#running.push({ tag: command.tag, job, writer });
    } catch (error) {
      if (writer.finished) throw error;
      if (error instanceof CommandError) {
        this.#send(trapWords(command.tag, error.message, error.category));
      } else {
        this.#send(trapWords(command.tag, `internal error: ${String(error)}`, Category.generalFailure));
      }
      writer.done();
    }
  }
}
