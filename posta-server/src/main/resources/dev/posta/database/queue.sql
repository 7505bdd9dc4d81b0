-- The clustered queue (dev.posta.queue.ClusterQueue). A message is its envelope and the digest
-- of its content's blob, written after the blob; each recipient is an item that nodes claim in
-- short transactions (select ... for update skip locked), under a lease with a fencing token
-- from queue_tokens: every outcome is written "where id = ? and token = ?", so a node whose lease
-- was taken over writes nothing. A finished item is deleted and its outcome appended to
-- queue_history, so the items table only ever holds live work.
create sequence if not exists queue_tokens;
create table if not exists queue_messages (
  id bigint generated always as identity primary key,
  -- unique in the cluster (each node's IDs carry its slot): local delivery IDs are made of it
  queue_id text not null unique,
  envelope bytea not null,
  blob bytea not null,
  size bigint not null,
  arrival timestamptz not null,
  held boolean not null default false,
  -- the node that accepted it
  node text not null
);
-- The blob sweep asks, for each unnamed-looking blob, whether a queued message names it.
create index if not exists queue_messages_blob on queue_messages (blob);
create table if not exists queue_items (
  id bigint generated always as identity primary key,
  message bigint not null references queue_messages on delete cascade,
  -- its index among the envelope's recipients
  recipient integer not null,
  held boolean not null default false,
  next_attempt timestamptz not null default now(),
  attempts integer not null default 0,
  last_error text,
  -- the final addresses of an alias already finished, not delivered to again
  done_targets text[] not null default '{}',
  lease_node text,
  lease_until timestamptz,
  token bigint,
  unique (message, recipient)
);
-- What a claim looks for: due items nobody holds (the index stays small: only waiting work) ...
create index if not exists queue_items_due on queue_items (next_attempt) where lease_until is null and not held;
-- ... and leases that ran out (a node that died): only held items are in it.
create index if not exists queue_items_leased on queue_items (lease_until) where lease_until is not null;
-- Every item is updated a few times and deleted within minutes: vacuum it after 1% has changed,
-- not the default 20%, without the cost delay, so that dead tuples never pile up under load.
alter table queue_items set (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 500,
  autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0, fillfactor = 80);
alter table queue_messages set (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0);
-- Finished recipients, appended once each: what became of them, where, by which node.
create table if not exists queue_history (
  id bigint generated always as identity primary key,
  queue_id text not null,
  recipient text not null,
  outcome text not null,
  status text not null,
  remote_mta text,
  diagnostic text,
  reason text,
  attempts integer not null,
  node text not null,
  finished timestamptz not null default now()
);
create index if not exists queue_history_queue_id on queue_history (queue_id);
-- Each node's slot (0 to 255), which its queue IDs carry so that they are unique in the cluster.
create table if not exists queue_node_slots (
  slot integer primary key check (slot between 0 and 255),
  node text not null unique
);
