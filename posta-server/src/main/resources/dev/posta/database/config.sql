-- The configuration the nodes share (posta cluster config push): one row, the TOML text of every
-- setting that is not a node's own, and its version, which each push raises by one.
create table if not exists shared_config (
  id boolean primary key default true check (id),
  toml text not null,
  version bigint not null,
  pushed timestamptz not null default now(),
  pushed_by text not null
);
