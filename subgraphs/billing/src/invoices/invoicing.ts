import type { Kysely } from 'kysely';
import { intervalTask, type BackgroundWorker, type Logger, type MutualTls } from '@fleet/service-kit';
import type { BillingConfig } from '../config.js';
import type { BillingDatabase } from '../database/schema.js';
import type { PaymentProvider } from '../payments/payment-provider.js';
import { auditFeed } from '../usage/audit-feed.js';
import { DEVICE_FEED, UsageMeter } from '../usage/usage-meter.js';
import { InvoiceIssuer } from './invoice-issuer.js';
import { InvoicePayments } from './invoice-payments.js';
import type { InvoiceServices } from './invoice-resolvers.js';
import { InvoiceStore } from './invoice-store.js';
import type { SubscriptionStanding } from './subscription-standing.js';

export interface InvoicingOptions {
  db: Kysely<BillingDatabase>;
  config: Pick<
    BillingConfig,
    'AUDIT_URL' | 'KEY_AUDIT' | 'USAGE_POLL_INTERVAL_S' | 'INVOICE_INTERVAL_S' | 'INVOICE_DUE_DAYS'
  >;
  logger: Logger;
  /** Billing's mutual TLS, for reading audit's feed; undefined only where it was turned off. */
  tls: MutualTls | undefined;
  subscriptions: SubscriptionStanding;
  /** Every provider an invoice may name, by name. */
  providers: readonly PaymentProvider[];
  /** After a commit that recorded events (the outbox relay's notify). */
  onEvent: () => void;
  /** The clock of metering and invoicing (tests move it). */
  now?: () => Date;
}

/**
 * Usage metering and invoicing, set up from billing's configuration: the services the resolvers
 * use, and two workers. One meters devices' events from audit's feed; the other, at the start
 * of each month, meters what is left, issues the last month's invoices, hands them to their
 * providers, and checks due dates.
 */
export function setUpInvoicing(options: InvoicingOptions): {
  services: InvoiceServices;
  workers: BackgroundWorker[];
} {
  const { db, config, logger, subscriptions, onEvent } = options;
  const clock = options.now ? { now: options.now } : {};
  const usage = new UsageMeter({
    db,
    feed: auditFeed({ auditUrl: config.AUDIT_URL, key: config.KEY_AUDIT, tls: options.tls, ...DEVICE_FEED }),
    logger: logger.child({ component: 'usage' }),
    ...clock,
  });
  const issuer = new InvoiceIssuer({
    db,
    subscriptions,
    presence: usage,
    providers: new Map(options.providers.map((provider) => [provider.name, provider])),
    dueDays: config.INVOICE_DUE_DAYS,
    onEvent,
    logger: logger.child({ component: 'invoices' }),
    ...clock,
  });
  const payments = new InvoicePayments({
    db,
    subscriptions,
    onEvent,
    logger: logger.child({ component: 'invoices' }),
    ...clock,
  });
  const workers = [
    intervalTask({
      name: 'meter device-days',
      everyMs: config.USAGE_POLL_INTERVAL_S * 1_000,
      logger,
      run: async () => {
        await usage.poll();
      },
    }),
    intervalTask({
      name: 'issue, hand over and check invoices',
      everyMs: config.INVOICE_INTERVAL_S * 1_000,
      logger,
      run: async () => {
        // The month's last device events first, as far as audit has them: a month is invoiced
        // only once metering has caught up with the feed.
        let caughtUp = false;
        try {
          caughtUp = (await usage.poll()).caughtUp;
        } catch (error) {
          logger.warn({ err: error }, "could not read audit's event feed: invoices wait for it");
        }
        if (caughtUp) {
          const { period, issued } = await issuer.issueLastMonth();
          if (issued > 0) logger.info({ period, issued }, 'invoices issued');
        }
        await issuer.handOver();
        await payments.enforceDueDates();
      },
    }),
  ];
  return { services: { store: new InvoiceStore(db), issuer, payments, usage }, workers };
}
