/** Every failure of a router call is one of these; none carries a password. */
export class RouterError extends Error {
  readonly router: string;

  constructor(router: string, message: string, options?: ErrorOptions) {
    super(`${router}: ${message}`, options);
    this.name = new.target.name;
    this.router = router;
  }
}

/** The call did not finish before its deadline; the connection was dropped. */
export class RouterTimeoutError extends RouterError {}

/** The connection closed (or the router sent `!fatal`) while the call was in flight. */
export class RouterConnectionError extends RouterError {}

/** The router refused the credentials. */
export class RouterLoginError extends RouterError {}

/** The router could not be reached, and will not be tried again before `retryAt`. */
export class RouterUnavailableError extends RouterError {
  readonly retryAt: number;

  constructor(router: string, message: string, retryAt: number, options?: ErrorOptions) {
    super(router, message, options);
    this.retryAt = retryAt;
  }
}

/** The router answered `!trap`: the command was understood and refused. */
export class RouterTrapError extends RouterError {
  readonly trapMessage: string;
  readonly category: number | undefined;

  constructor(router: string, trapMessage: string, category: number | undefined) {
    super(router, trapMessage);
    this.trapMessage = trapMessage;
    this.category = category;
  }
}

/** A change was asked for with no item to apply it to: refused before anything is sent. */
export class EmptySelectorError extends RouterError {}
