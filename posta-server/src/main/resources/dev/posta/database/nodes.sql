-- The nodes of a cluster: each writes its heartbeat; a node whose heartbeat is old is taken for dead.
create table if not exists nodes (
  node text primary key,
  started timestamptz not null,
  heartbeat timestamptz not null,
  version text not null default ''
);
