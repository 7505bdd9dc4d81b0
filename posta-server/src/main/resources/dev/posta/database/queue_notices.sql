-- queue.delay-warning in the clustered queue (dev.posta.queue.ClusterQueue): a message's sender is
-- told once in the cluster that it is delayed; the first transaction to set this mark queues the
-- notice, in the same commit.
-- Added once: "add column if not exists" locks the busy table even when the column is there.
do $$ begin
  if not exists (select 1 from pg_attribute where attrelid = 'queue_messages'::regclass and attname = 'delay_warned' and not attisdropped) then
    alter table queue_messages add column delay_warned boolean not null default false;
  end if;
end $$;
