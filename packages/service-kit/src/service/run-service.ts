import { ConfigError } from '../config/config.js';
import { createLogger, type Logger } from '../logging/logger.js';

export interface StartedService {
  /** The port the service listens on (useful when it was asked for port 0). */
  port: number;
  /** Stops accepting, drains what is in flight and releases every resource. */
  stop(): Promise<void>;
}

/** The message a service sends its parent process, if any, once it accepts requests. */
export interface ReadyMessage {
  type: 'ready';
  service: string;
  port: number;
}

const STOP_GRACE_MS = 15_000;

/**
 * Runs a service process: starts it, tells a parent process (the launcher, or a test) that it is
 * ready, and stops it cleanly on SIGTERM or SIGINT. A configuration error ends the process with
 * exit code 1 after listing every problem; so does a failure to start.
 */
export interface ServiceDefinition<C> {
  service: string;
  /** Reads and validates the configuration; throws ConfigError listing every problem. */
  loadConfig(): C;
  logLevel(config: C): string;
  start(config: C, logger: Logger): Promise<StartedService>;
}

export function runService<C>(definition: ServiceDefinition<C>): void {
  const { service } = definition;
  let config: C;
  try {
    config = definition.loadConfig();
  } catch (error) {
    failConfig(service, error);
  }
  const logger = createLogger({ service, level: definition.logLevel(config) });
  let running: StartedService | undefined;
  let stopping = false;

  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const timer = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(code || 1);
    }, STOP_GRACE_MS);
    timer.unref();
    try {
      await running?.stop();
      logger.info('stopped');
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      code ||= 1;
    }
    logger.flush();
    process.exit(code);
  };

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    // A terminal's Ctrl-C reaches the launcher and its services alike, and the launcher then asks
    // again: repeated signals change nothing, and the grace period bounds the wait.
    process.on(signal, () => {
      if (!stopping) logger.info({ signal }, 'stopping');
      void stop(0);
    });
  }
  // The launcher going away (Ctrl-C on it, or a crash) must not leave this process behind.
  process.on('disconnect', () => void stop(0));
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    void stop(1);
  });
  process.on('unhandledRejection', (error) => {
    logger.fatal({ err: error }, 'unhandled rejection');
    void stop(1);
  });

  definition.start(config, logger).then(
    (started) => {
      running = started;
      if (stopping) {
        void started.stop();
        return;
      }
      const message: ReadyMessage = { type: 'ready', service, port: started.port };
      process.send?.(message);
    },
    (error: unknown) => {
      logger.fatal({ err: error }, 'failed to start');
      void stop(1);
    },
  );
}

function failConfig(service: string, error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`${service}: ${error.message}\n`);
  } else {
    process.stderr.write(`${service}: failed to start: ${String(error)}\n`);
  }
  process.exit(1);
}
