-- Unreachable destinations in the clustered queue (dev.posta.queue.ClusterSuspensions), shared by
-- every node: written by the node whose attempt found no server of the destination answering,
-- read by every node as it delivers (cached for at most a second), deleted by a delivery the
-- destination answered, by `posta queue flush`, and by the housekeeping once long ended. Until
-- `until`, the destination's mail is deferred without a connection; after it, one node at a time
-- probes it, under probing_node's claim until probe_until (a dead prober's claim runs out).
create table if not exists queue_suspensions (
  destination text primary key,
  until timestamptz not null,
  -- the deferral that found it unreachable (DeliveryResult): what its mail is deferred with meanwhile
  status text not null,
  remote_mta text,
  reason text not null,
  -- the node whose attempt suspended it (or renewed it last), and when it was first suspended
  node text not null,
  since timestamptz not null default now(),
  probing_node text,
  probe_until timestamptz
);
