package dev.posta.store;

import java.util.function.LongConsumer;

/**
 * How the nodes of a cluster hear that a folder changed on another node: a hint, sent after the
 * change committed, that may come late, twice, or never. {@link DatabaseStore} therefore also
 * compares each open folder's highest MODSEQ with the database's at a fixed interval, so a lost
 * hint delays news by at most that interval and never loses it. {@link PostgresChangeBus} sends
 * the hints through PostgreSQL's LISTEN/NOTIFY; {@link #NONE} sends none (polling only).
 */
public interface ChangeBus extends AutoCloseable {
  /** Starts telling {@code changed} the id of every folder changed anywhere in the cluster, on a thread of the bus's own. */
  void start(LongConsumer changed);

  @Override
  void close();

  /** No hints: the store's periodic comparison alone finds changes made on other nodes. */
  ChangeBus NONE = new ChangeBus() {
    @Override
    public void start(LongConsumer changed) {}

    @Override
    public void close() {}
  };
}
