-- Message content, named by its SHA-256 digest and written before any row names it: a crash
-- leaves at most an unnamed blob, which the sweep removes once it is old. "touched" is renewed
-- whenever the same content is written again, so that the sweep never takes content a row is
-- about to name. "content" is null when the blob lies in an S3-compatible store.
create table if not exists blobs (
  digest bytea primary key,
  size bigint not null,
  touched timestamptz not null default now(),
  content bytea
);
-- Mail is mostly compressed already: stored as it is. Set once: the change locks the table, and
-- every node start and command makes the schema.
do $$ begin
  if (select attstorage from pg_attribute where attrelid = 'blobs'::regclass and attname = 'content') <> 'e' then
    alter table blobs alter column content set storage external;
  end if;
end $$;
create index if not exists blobs_touched on blobs (touched);
