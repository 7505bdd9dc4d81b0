-- Local mailboxes and their folders (RFC 9051 §2.3): UIDs and MODSEQs are taken with UPDATE ...
-- RETURNING on the folder's row, so that two nodes delivering to one folder at once get
-- different UIDs, and a flag change is one UPDATE, never a read-modify-write.
create table if not exists mailboxes (
  id bigint generated always as identity primary key,
  domain text not null,
  name text not null,
  unique (domain, name)
);
create table if not exists folders (
  id bigint generated always as identity primary key,
  mailbox bigint not null references mailboxes on delete cascade,
  name text not null,
  uid_validity bigint not null,
  uid_next bigint not null default 1,
  highest_modseq bigint not null default 1,
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
-- One row per local delivery ever made: a delivery replayed after a crash finds its row and
-- writes nothing (exactly once). Kept apart from the message, which its user may expunge.
create table if not exists deliveries (
  delivery_id text primary key,
  mailbox bigint not null references mailboxes on delete cascade,
  delivered timestamptz not null default now()
);
