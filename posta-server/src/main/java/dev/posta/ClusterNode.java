package dev.posta;

import dev.posta.auth.ApiTokens;
import dev.posta.auth.UserStore;
import dev.posta.config.PostaConfig;
import dev.posta.database.BlobStore;
import dev.posta.database.BlobSweeper;
import dev.posta.database.Database;
import dev.posta.database.DatabaseBlobs;
import dev.posta.database.Nodes;
import dev.posta.database.S3Blobs;
import java.io.IOException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * What a clustered node runs beside its queue and mailbox store ({@code [cluster] database}): its
 * name among the nodes with a heartbeat ({@link Nodes}), the store of message content that {@code
 * [cluster] blobs} names ({@link DatabaseBlobs} or {@link S3Blobs}) with the sweep of content
 * nothing names ({@link BlobSweeper}, one node at a time), and the accounts and API tokens every
 * node shares ({@link UserStore#inDatabase}, {@link ApiTokens#inDatabase}).
 *
 * <p>Started once the database is open, before the listeners: a node whose name a live node holds,
 * or whose S3 bucket cannot be used, does not start, with the reason. A node that loses its name
 * while it runs (another start took it) is told, and stops ({@link Nodes} says why). Closed after the queue and
 * the store, before the database: the node's row goes last, when nothing of it runs any more.
 */
public final class ClusterNode implements AutoCloseable {
  private final Nodes nodes;
  private final BlobStore blobs;
  private final BlobSweeper sweeper;
  private final UserStore users;
  private final ApiTokens tokens;

  private ClusterNode(Nodes nodes, BlobStore blobs, BlobSweeper sweeper, UserStore users, ApiTokens tokens) {
    this.nodes = nodes;
    this.blobs = blobs;
    this.sweeper = sweeper;
    this.users = users;
    this.tokens = tokens;
  }

  /**
   * Registers the node and opens its blob store, its sweeper and its accounts.
   *
   * @param log where the heartbeat's and the sweep's events go (one line each)
   * @throws Nodes.NameTaken when a live node has this node's name
   * @throws IOException when the S3 bucket cannot be used
   */
  public static ClusterNode start(Database database, PostaConfig config, Duration checkWait, Consumer<String> log)
      throws SQLException, IOException, Nodes.NameTaken {
    return start(database, config, checkWait, log, () -> {});
  }

  /**
   * As {@link #start(Database, PostaConfig, Duration, Consumer)}, and {@code nameLost} is run once
   * when another start of this node took its name (its database session ended, and another
   * process started under the name before this one took it back): the node must then stop, which
   * its owner does ({@link PostaServer}; the reasons are {@link Nodes}'s). Run on the heartbeat's
   * thread: it must not wait for this node to close.
   */
  public static ClusterNode start(Database database, PostaConfig config, Duration checkWait, Consumer<String> log, Runnable nameLost)
      throws SQLException, IOException, Nodes.NameTaken {
    PostaConfig.Cluster cluster = config.cluster();
    PostaConfig.Cluster.Blobs settings = cluster.blobs();
    Nodes nodes = Nodes.join(database, cluster.node(), PostaServer.VERSION, log, nameLost);
    BlobStore blobs;
    try {
      if (settings.s3().isPresent()) {
        PostaConfig.Cluster.S3 s3 = settings.s3().get();
        blobs = S3Blobs.open(database, s3.endpoint(), s3.region(), s3.bucket(), s3.accessKey(), s3.secretKey());
      } else {
        blobs = new DatabaseBlobs(database);
      }
    } catch (IOException | RuntimeException e) {
      nodes.close();
      throw e;
    }
    BlobSweeper sweeper = BlobSweeper.start(database, blobs, settings.sweepEvery(), settings.sweepAge(), log);
    UserStore users = UserStore.inDatabase(database, config.dataDir(), checkWait);
    return new ClusterNode(nodes, blobs, sweeper, users, ApiTokens.inDatabase(database));
  }

  /** Where this node puts and reads message content. */
  public BlobStore blobs() {
    return blobs;
  }

  /** The accounts, shared by every node. */
  public UserStore users() {
    return users;
  }

  /** The HTTP API's tokens, shared by every node. */
  public ApiTokens tokens() {
    return tokens;
  }

  public String name() {
    return nodes.name();
  }

  @Override
  public void close() throws SQLException {
    users.close();
    try {
      sweeper.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (blobs instanceof S3Blobs s3) s3.close();
    nodes.close();
  }
}
