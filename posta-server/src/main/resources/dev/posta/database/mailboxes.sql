-- Local mailboxes and their folders (RFC 9051 §2.3), as store.DatabaseStore keeps them: UIDs and
-- MODSEQs are taken with UPDATE ... RETURNING on the folder's row, so that two nodes delivering to
-- one folder at once get different UIDs (and, the row locked until commit, commit them in UID
-- order), and a flag change is one UPDATE, never a read-modify-write.
create table if not exists mailboxes (
  id bigint generated always as identity primary key,
  domain text not null,
  name text not null,
  -- the last UIDVALIDITY given to a folder of this mailbox: a folder made again (or another made
  -- in the same second) never gets one a client may still hold (RFC 9051 §2.3.1.1)
  last_uid_validity bigint not null default 0,
  unique (domain, name)
);
create table if not exists folders (
  id bigint generated always as identity primary key,
  mailbox bigint not null references mailboxes on delete cascade,
  -- "INBOX" for the inbox whatever case it was asked for in; other names as given
  name text not null,
  uid_validity bigint not null,
  uid_next bigint not null default 1,
  highest_modseq bigint not null default 1,
  -- UIDs from here on are \Recent: no session has claimed them yet (RFC 3501 §2.3.2)
  recent_from bigint not null default 1,
  unique (mailbox, name)
);
create table if not exists messages (
  folder bigint not null references folders on delete cascade,
  uid bigint not null,
  modseq bigint not null,
  flags integer not null default 0,
  internal_date timestamptz not null,
  -- the header fields delivery put before the content (Return-Path:, Delivered-To:), CRLF-ended
  header bytea not null,
  -- the content's blob: one blob for every copy of a message, however many mailboxes got it
  blob bytea not null,
  -- octets as served: header and content, CRLF line ends (RFC822.SIZE)
  size bigint not null,
  primary key (folder, uid)
);
create index if not exists messages_modseq on messages (folder, modseq);
create index if not exists messages_blob on messages (blob);
-- The UIDs expunged from a folder and the MODSEQ of their expunge: how each node's view of an open
-- folder, and a selected session, learn of the expunges after the MODSEQ they know (RFC 7162
-- §3.2.10's VANISHED). Kept database.Retention.EXPUNGED_KEPT (7 days), then removed by the
-- housekeeping; the highest MODSEQ removed is kept per folder in expunge_horizons, and a view or a
-- session that knows less than it compares UID lists instead (as a Maildir's index does past its
-- 100,000 expunges). SELECT (QRESYNC) and FETCH (VANISHED) tell what vanished from the UIDs
-- present, not from this table: the removal changes no reply.
create table if not exists expunged (
  folder bigint not null references folders on delete cascade,
  uid bigint not null,
  modseq bigint not null,
  -- when it was expunged: what the retention goes by
  at timestamptz not null default now(),
  primary key (folder, uid)
);
create index if not exists expunged_modseq on expunged (folder, modseq);
-- Added once to a database made before the retention (a fast default: no table rewrite).
do $$ begin
  if not exists (select 1 from pg_attribute where attrelid = 'expunged'::regclass and attname = 'at' and not attisdropped) then
    alter table expunged add column at timestamptz not null default now();
  end if;
end $$;
create index if not exists expunged_at on expunged (at);
-- Per folder, the highest MODSEQ whose expunges the retention removed from expunged.
create table if not exists expunge_horizons (
  folder bigint primary key references folders on delete cascade,
  modseq bigint not null
);
-- A folder's keywords (RFC 9051 §2.3.2): the one in position n is flag bit dev.posta.store.Flags.keyword(n).
create table if not exists keywords (
  folder bigint not null references folders on delete cascade,
  position integer not null check (position >= 0 and position < 26),
  name text not null,
  primary key (folder, position)
);
-- keywords match without regard to case, as Dovecot (and MaildirFolder) match them
create unique index if not exists keywords_name on keywords (folder, lower(name));
-- The folders a mailbox's user subscribed to (RFC 9051 §6.3.7), in the order subscribed.
create table if not exists subscriptions (
  mailbox bigint not null references mailboxes on delete cascade,
  name text not null,
  added bigint generated always as identity,
  primary key (mailbox, name)
);
-- One row per local delivery: a delivery replayed after a crash finds its row and
-- writes nothing (exactly once). Kept apart from the message, which its user may expunge.
-- Removed by the housekeeping (database.Retention) after database.Retention.DELIVERIES_KEPT (30
-- days, as queue_history), and only once older than every message still queued: no replay can
-- come for a message gone from the queue.
create table if not exists deliveries (
  delivery_id text primary key,
  mailbox bigint not null references mailboxes on delete cascade,
  delivered timestamptz not null default now()
);
create index if not exists deliveries_delivered on deliveries (delivered);
