package dev.posta.web;

import dev.posta.PostaServer;
import dev.posta.config.PostaConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * What {@code /readyz} checks, so that a load balancer or an orchestrator sends mail and requests
 * only to a server that can take them: every configured listener is bound, the spool takes a
 * file (created, written, fsynced and removed in {@code <data>/queue}, as a message would be),
 * and the data folder's file system has at least {@code [http] ready-min-free-space} free.
 * {@code /healthz} says only that the process answers. The operators' server page
 * ({@code /admin}) shows the same reasons.
 */
public final class Readiness {
  private Readiness() {}

  /** Why the server is not ready, one reason each; empty when it is. */
  public static List<String> problems(PostaServer server) {
    PostaConfig config = server.config();
    List<String> problems = new ArrayList<>();
    for (PostaConfig.Listener l : config.listeners()) {
      boolean bound = server.listeners().stream().anyMatch(b -> b.listener().equals(l));
      if (!bound) problems.add("listener " + l.protocol().name().toLowerCase(java.util.Locale.ROOT) + " " + l.address() + " is not bound");
    }
    Path spool = server.spoolFolder();
    try {
      Path probe = Files.createTempFile(spool, ".readyz-", ".tmp");
      try (FileChannel ch = FileChannel.open(probe, StandardOpenOption.WRITE)) {
        ch.write(ByteBuffer.wrap(new byte[] {'\n'}));
        ch.force(true);
      } finally {
        Files.deleteIfExists(probe);
      }
    } catch (IOException | RuntimeException e) {
      problems.add("the spool " + spool + " is not writable: " + e);
    }
    long least = config.http().readyMinFreeSpace();
    try {
      long free = Files.getFileStore(config.dataDir()).getUsableSpace();
      if (free < least) {
        problems.add("free space in " + config.dataDir() + " is " + free + " octets, below [http] ready-min-free-space (" + least + ")");
      }
    } catch (IOException e) {
      problems.add("free space in " + config.dataDir() + " unknown: " + e);
    }
    return problems;
  }
}
