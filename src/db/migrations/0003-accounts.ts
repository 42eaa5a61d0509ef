import { type Kysely, sql } from 'kysely'

/**
 * Accounts (Security): the TOTP second factor, lockout after failed logins, admin resets with a
 * one-time code, and sessions. Session tokens and reset codes are kept only as SHA-256 digests (they
 * are 256-bit random values: a slow hash would add nothing); the TOTP secret is encrypted with the
 * identity-free `accounts` data key and bound to its row.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(`
alter table governance.account
  add column totp_secret_enc  bytea,
  add column totp_enabled_at  timestamptz,
  add column totp_last_step   bigint,
  add column failed_logins    integer     not null default 0,
  add column locked_until     timestamptz,
  add column reset_code_hash  bytea,
  add column reset_expires_at timestamptz,
  add column password_set_at  timestamptz;
comment on column governance.account.totp_last_step is 'The last TOTP time step accepted: a code is never accepted twice.';

create table governance.session (
  id              bigint      generated always as identity primary key,
  token_sha256    bytea       not null unique check (length(token_sha256) = 32),
  csrf_sha256     bytea       not null check (length(csrf_sha256) = 32),
  account_id      bigint      not null references governance.account (id),
  created_at      timestamptz not null default now(),
  last_seen_at    timestamptz not null default now(),
  expires_at      timestamptz not null,
  source          text        not null,
  revoked_at      timestamptz,
  revoked_reason  text
);
create index session_account_idx on governance.session (account_id) where revoked_at is null;
`)
    .execute(db)
}
