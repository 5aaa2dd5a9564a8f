import { sql, type Kysely, type Migration } from 'kysely';
import { OUTBOX_MIGRATION_NAME, outboxMigration } from '@fleet/outbox';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are untyped by design */
export const migrations: Record<string, Migration> = {
  [OUTBOX_MIGRATION_NAME]: outboxMigration,
  '0001-plans': {
    async up(db: Kysely<any>) {
      await sql`
        create table plan (
          id text primary key,
          name text not null,
          device_quota integer not null check (device_quota >= 0),
          price_minor bigint not null check (price_minor >= 0),
          currency char(3) not null
        )`.execute(db);
      await sql`
        insert into plan (id, name, device_quota, price_minor, currency) values
          ('free', 'Free', 3, 0, 'EUR'),
          ('pro', 'Pro', 100, 4900, 'EUR'),
          ('enterprise', 'Enterprise', 10000, 99900, 'EUR')`.execute(db);
      await sql`
        create table tenant_plan (
          tenant_id uuid primary key,
          plan_id text not null references plan (id),
          changed_at timestamptz not null default now()
        )`.execute(db);
    },
  },
  '0002-subscriptions': {
    async up(db: Kysely<any>) {
      await sql`alter table plan add column rate_limit_tier text not null default 'free'`.execute(db);
      await sql`
        alter table plan add column device_day_price_minor bigint not null default 0
          check (device_day_price_minor >= 0)`.execute(db);
      await sql`
        alter table plan add column trial_days integer not null default 0
          check (trial_days between 0 and 365)`.execute(db);
      await sql`alter table plan add column available boolean not null default true`.execute(db);
      await sql`alter table plan add check (currency ~ '^[A-Z]{3}$')`.execute(db);
      await sql`update plan set device_quota = 5 where id = 'free'`.execute(db);
      await sql`
        update plan set rate_limit_tier = 'standard', device_day_price_minor = 5, trial_days = 14
        where id = 'pro'`.execute(db);
      await sql`
        update plan set rate_limit_tier = 'enterprise', device_day_price_minor = 3, trial_days = 30
        where id = 'enterprise'`.execute(db);
      // One row per tenant that ever left the free plan. Without a row a tenant is on the free
      // plan, active.
      await sql`
        create table subscription (
          tenant_id uuid primary key,
          plan_id text not null references plan (id),
          status text not null check (status in ('trialing', 'active', 'past_due', 'canceled')),
          trial_ends_at timestamptz,
          past_due_since timestamptz,
          canceled_at timestamptz,
          provider text not null default 'manual',
          provider_customer_id text unique,
          provider_subscription_id text unique,
          -- A tenant's first paid plan may start with a trial; later ones do not.
          trial_used boolean not null default false,
          -- Whether devices and the gateway still have to learn the tenant's entitlements.
          entitlement_dirty boolean not null default true,
          started_at timestamptz not null default now(),
          updated_at timestamptz not null default now(),
          check ((status = 'trialing') = (trial_ends_at is not null))
        )`.execute(db);
      // Entitlements pushed to devices carry a version from here: a sequence, so that a push
      // whose transaction rolled back can never be outnumbered by a later one.
      await sql`create sequence entitlement_version`.execute(db);
      // The plan a tenant was on, second by second: what invoices prorate. The prices are
      // those of the plan when the segment began, so a price change applies from the next one.
      await sql`
        create table plan_segment (
          tenant_id uuid not null,
          starts_at timestamptz not null,
          ends_at timestamptz,
          plan_id text not null references plan (id),
          -- Not billable while trialing or canceled.
          billable boolean not null,
          price_minor bigint not null check (price_minor >= 0),
          device_day_price_minor bigint not null check (device_day_price_minor >= 0),
          currency char(3) not null,
          primary key (tenant_id, starts_at),
          check (ends_at is null or ends_at > starts_at)
        )`.execute(db);
      await sql`
        create unique index plan_segment_current on plan_segment (tenant_id) where ends_at is null`.execute(
        db,
      );
      await sql`
        insert into subscription (tenant_id, plan_id, status, started_at, updated_at)
        select tenant_id, plan_id, 'active', changed_at, changed_at from tenant_plan`.execute(db);
      await sql`
        insert into plan_segment
          (tenant_id, starts_at, plan_id, billable, price_minor, device_day_price_minor, currency)
        select t.tenant_id, t.changed_at, p.id, true, p.price_minor, p.device_day_price_minor, p.currency
        from tenant_plan t join plan p on p.id = t.plan_id`.execute(db);
      await sql`drop table tenant_plan`.execute(db);
    },
  },
  /**
   * Usage metering and invoices. Devices' events arrive through audit's feed: each event id is
   * metered once (a replayed page or a cursor set back counts nothing twice), and each device
   * keeps the time it existed. Invoices bill a closed month once per tenant, with their lines.
   */
  '0003-usage-invoices': {
    async up(db: Kysely<any>) {
      // Where billing is in each feed it follows: the last position it metered.
      await sql`
        create table usage_cursor (
          feed text primary key,
          position bigint not null check (position >= 0),
          updated_at timestamptz not null default now()
        )`.execute(db);
      await sql`
        create table metered_event (
          event_id uuid primary key,
          position bigint not null,
          event_type text not null,
          metered_at timestamptz not null default now()
        )`.execute(db);
      // A device from its creation to its removal. Either end may be learnt first: until its
      // creation is metered, a device counts nothing.
      await sql`
        create table device_presence (
          device_id text primary key,
          tenant_id uuid not null,
          present_from timestamptz,
          present_until timestamptz
        )`.execute(db);
      await sql`create index device_presence_tenant on device_presence (tenant_id, present_from)`.execute(db);
      await sql`
        create table invoice (
          id uuid primary key,
          tenant_id uuid not null,
          period text not null check (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
          status text not null check (status in ('open', 'paid', 'void')),
          currency char(3) not null check (currency ~ '^[A-Z]{3}$'),
          total_minor bigint not null check (total_minor >= 0),
          issued_at timestamptz not null,
          due_at timestamptz not null,
          paid_at timestamptz,
          provider text not null,
          provider_invoice_id text unique,
          -- When the provider took the invoice to collect (null until then; the manual provider
          -- takes it at once, with no id of its own).
          handed_over_at timestamptz,
          -- A replica handing the invoice over holds it until then, so that no other does too.
          handing_over_until timestamptz,
          unique (tenant_id, period),
          check ((status = 'paid') = (paid_at is not null)),
          check (status <> 'void' or total_minor = 0),
          check (due_at >= issued_at)
        )`.execute(db);
      await sql`create index invoice_open_due on invoice (due_at) where status = 'open'`.execute(db);
      await sql`
        create table invoice_line (
          invoice_id uuid not null references invoice (id),
          line_no integer not null check (line_no >= 1),
          kind text not null check (kind in ('plan_fee', 'device_usage')),
          description text not null,
          plan_id text not null,
          period_start timestamptz not null,
          period_end timestamptz not null,
          quantity bigint not null check (quantity >= 0),
          unit_amount_minor bigint not null check (unit_amount_minor >= 0),
          amount_minor bigint not null check (amount_minor >= 0),
          primary key (invoice_id, line_no),
          check (period_end > period_start)
        )`.execute(db);
      // Tenants billing put past due for an overdue invoice, until none of theirs is overdue:
      // only these does billing put back in good standing.
      await sql`
        create table overdue_tenant (
          tenant_id uuid primary key,
          since timestamptz not null
        )`.execute(db);
    },
  },
};
