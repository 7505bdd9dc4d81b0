-- queue.delay-warning in the clustered queue (dev.posta.queue.ClusterQueue): a message's sender is
-- told once in the cluster that it is delayed; the first transaction to set this mark queues the
-- notice, in the same commit.
alter table queue_messages add column if not exists delay_warned boolean not null default false;
