import pg from 'pg';
import { processUsage } from './process-usage.js';

/**
 * CPU time of the PostgreSQL backends serving one database, when the server runs on this machine
 * (its processes readable in /proc): the server's share of a span, apart from the service's own.
 * A backend that ends within the span is missed; the service's pool keeps its connections while
 * it is busy.
 */
export class PostgresBackends {
  readonly #admin: pg.Client;
  readonly #database: string;

  private constructor(admin: pg.Client, database: string) {
    this.#admin = admin;
    this.#database = database;
  }

  static async open(adminUrl: string, database: string): Promise<PostgresBackends> {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    return new PostgresBackends(admin, database);
  }

  /** CPU seconds so far of each backend of the database, by process id. */
  async cpuSeconds(): Promise<Map<number, number>> {
    const { rows } = await this.#admin.query<{ pid: number }>(
      `select pid from pg_stat_activity where datname = $1 and backend_type = 'client backend'`,
      [this.#database],
    );
    const usage = new Map<number, number>();
    for (const { pid } of rows) {
      try {
        usage.set(pid, processUsage(pid).cpuSeconds);
      } catch {
        // Ended since, or not on this machine.
      }
    }
    return usage;
  }

  /** Starts a span; its end answers the CPU seconds the database's backends spent in it. */
  async meter(): Promise<() => Promise<number>> {
    const start = await this.cpuSeconds();
    return async () => {
      let spent = 0;
      for (const [pid, seconds] of await this.cpuSeconds()) spent += seconds - (start.get(pid) ?? 0);
      return spent;
    };
  }

  close(): Promise<void> {
    return this.#admin.end();
  }
}
