package dev.posta.database;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@code posta cluster status} shows, read in one transaction (one snapshot): the nodes with
 * their heartbeats ({@link Nodes}), the clustered queue's depth (schema part {@code queue.sql})
 * and the leases each node holds. A lease whose time ran out is counted apart: its node died or
 * stalled, and another node takes the item over at its next claim. Then the destinations the
 * cluster's queue has suspended as unreachable (schema part {@code queue_suspensions.sql}).
 */
public record ClusterStatus(List<Nodes.Node> nodes, Queue queue, Map<String, Long> leases, List<Suspended> suspended) {
  /**
   * The queue's depth: messages, recipients still to deliver ({@code items}), of which due now
   * and unclaimed, held by an operator, leased by a node now, leased with the lease run out.
   */
  public record Queue(long messages, long items, long due, long held, long leased, long leaseRunOut) {}

  /**
   * A destination whose mail is deferred without a connection until {@code until} (then probed),
   * because no server of it answered: the status and reason of that deferral, and the node
   * probing it now (null: none).
   */
  public record Suspended(String destination, Instant until, String status, String reason, String probingNode) {}

  public static ClusterStatus read(Database database) throws SQLException {
    return read(database, Nodes.DEAD_AFTER);
  }

  static ClusterStatus read(Database database, Duration deadAfter) throws SQLException {
    return database.transaction(c -> {
      // One snapshot for every count, so that they add up; for this transaction only.
      try (var s = c.createStatement()) {
        s.execute("set transaction isolation level repeatable read");
      }
      List<Nodes.Node> nodes = Nodes.list(database, deadAfter);
      Queue queue;
      try (PreparedStatement s = c.prepareStatement("select (select count(*) from queue_messages), count(*),"
          + " count(*) filter (where lease_until is null and not held and next_attempt <= now()),"
          + " count(*) filter (where held),"
          + " count(*) filter (where lease_until > now()),"
          + " count(*) filter (where lease_until <= now())"
          + " from queue_items"); ResultSet r = s.executeQuery()) {
        r.next();
        queue = new Queue(r.getLong(1), r.getLong(2), r.getLong(3), r.getLong(4), r.getLong(5), r.getLong(6));
      }
      Map<String, Long> leases = new HashMap<>();
      try (PreparedStatement s = c.prepareStatement("select lease_node, count(*) from queue_items where lease_until > now() group by lease_node");
          ResultSet r = s.executeQuery()) {
        while (r.next()) leases.put(r.getString(1), r.getLong(2));
      }
      List<Suspended> suspended = new ArrayList<>();
      try (PreparedStatement s = c.prepareStatement("select destination, until, status, reason, "
          + "case when probe_until > now() then probing_node end from queue_suspensions order by destination"); ResultSet r = s.executeQuery()) {
        while (r.next()) {
          suspended.add(new Suspended(r.getString(1), r.getObject(2, OffsetDateTime.class).toInstant(), r.getString(3), r.getString(4),
              r.getString(5)));
        }
      }
      return new ClusterStatus(nodes, queue, Map.copyOf(leases), List.copyOf(suspended));
    });
  }

  /**
   * The text {@code posta cluster status} prints: a line per node, in columns, then the queue's.
   * Ages in whole seconds, start times in UTC to the second.
   */
  public String render(String database) {
    StringBuilder out = new StringBuilder();
    out.append("cluster ").append(database).append(": ").append(nodes.size()).append(nodes.size() == 1 ? " node" : " nodes").append(", ")
        .append(nodes.stream().filter(Nodes.Node::alive).count()).append(" alive (dead after ").append(Nodes.DEAD_AFTER.toSeconds())
        .append(" s without a heartbeat)\n");
    if (!nodes.isEmpty()) {
      String[] head = {"NODE", "STATE", "HEARTBEAT", "STARTED", "VERSION", "LEASES"};
      String[][] rows = new String[nodes.size()][];
      for (int i = 0; i < rows.length; i++) {
        Nodes.Node n = nodes.get(i);
        rows[i] = new String[] {n.name(), n.alive() ? "alive" : "dead", n.age().toSeconds() + " s ago",
            DateTimeFormatter.ISO_INSTANT.format(n.started().truncatedTo(ChronoUnit.SECONDS)), n.version().isEmpty() ? "-" : n.version(),
            String.valueOf(leases.getOrDefault(n.name(), 0L))};
      }
      int[] width = new int[head.length];
      for (int j = 0; j < head.length; j++) {
        width[j] = head[j].length();
        for (String[] row : rows) width[j] = Math.max(width[j], row[j].length());
      }
      appendRow(out, head, width);
      for (String[] row : rows) appendRow(out, row, width);
    }
    Queue q = queue;
    out.append("queue: ").append(q.messages()).append(q.messages() == 1 ? " message, " : " messages, ").append(q.items())
        .append(q.items() == 1 ? " recipient" : " recipients").append(" to deliver: ").append(q.due()).append(" due now, ").append(q.leased())
        .append(" being delivered, ").append(q.held()).append(" held, ").append(q.leaseRunOut()).append(" with a lease run out\n");
    long unknown = leases.entrySet().stream().filter(e -> nodes.stream().noneMatch(n -> n.name().equals(e.getKey()))).mapToLong(Map.Entry::getValue).sum();
    if (unknown > 0) out.append("leases held by nodes not registered: ").append(unknown).append('\n');
    for (Suspended d : suspended) {
      out.append("suspended: ").append(d.destination()).append(" until ")
          .append(DateTimeFormatter.ISO_INSTANT.format(d.until().truncatedTo(ChronoUnit.SECONDS)));
      if (d.probingNode() != null) out.append(", probed by ").append(d.probingNode());
      out.append(" (").append(d.status()).append(' ').append(d.reason()).append(")\n");
    }
    return out.toString();
  }

  private static void appendRow(StringBuilder out, String[] cells, int[] width) {
    StringBuilder line = new StringBuilder();
    for (int j = 0; j < cells.length; j++) {
      line.append(cells[j]);
      if (j < cells.length - 1) line.append(" ".repeat(width[j] - cells[j].length() + 2));
    }
    out.append(line.toString().stripTrailing()).append('\n');
  }
}
