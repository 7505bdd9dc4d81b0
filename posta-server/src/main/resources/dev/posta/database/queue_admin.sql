-- The administrator's acts on the clustered queue (dev.posta.queue.ClusterQueueControl): hold,
-- release, retry and the notices a bounce sent, by queue ID, as posta queue show's timeline
-- reads them (the embedded queue keeps them in its spool's progress log). Appended only; the
-- rows of a message gone stay, as queue_history's do.
create table if not exists queue_acts (
  id bigint generated always as identity primary key,
  queue_id text not null,
  at timestamptz not null default now(),
  -- a dev.posta.queue.Timeline.Kind's word: held, released, retried, notice
  kind text not null,
  -- a notice's action (failed) and queue ID; else null
  status text,
  detail text,
  -- where the command was given: the node's name
  node text not null
);
create index if not exists queue_acts_queue_id on queue_acts (queue_id);
