-- The accounts that may log in, shared by every node (auth.DatabaseAccounts): the fields of a line
-- of a single node's users file. A change is one transaction under an advisory lock, which bumps
-- accounts_version and notifies "posta_accounts" at its commit: nodes reload on the notification,
-- and a node that missed it sees the version change at its next poll.
create table if not exists accounts (
  address text primary key,        -- canonical (UserStore.canonicalAddress)
  password_hash text not null,     -- argon2id, PHC string
  scram text not null,             -- SCRAM-SHA-256 stored credentials (RFC 5802, RFC 7677)
  admin boolean not null default false,
  disabled boolean not null default false,
  changed timestamptz not null default now()
);
create table if not exists accounts_version (
  one boolean primary key default true check (one),
  version bigint not null
);
insert into accounts_version (one, version) values (true, 0) on conflict do nothing;
