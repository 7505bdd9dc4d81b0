package dev.posta;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.ConfigLoader;
import dev.posta.config.PostaConfig;
import dev.posta.database.Database;
import dev.posta.database.DatabaseBlobs;
import dev.posta.database.Digest;
import dev.posta.database.Nodes;
import dev.posta.database.S3Blobs;
import dev.posta.testing.Postgres;
import dev.posta.testing.S3Proxy;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/** A clustered node's own parts ({@link ClusterNode}) from its [cluster] section, on a real PostgreSQL and a real s3proxy. */
class ClusterNodeTest {
  private static final Postgres POSTGRES = Postgres.shared();

  @TempDir Path dir;

  private PostaConfig config(String node, String cluster) throws Exception {
    Path file = Files.createDirectories(dir.resolve(node)).resolve("posta.toml");
    Files.writeString(file, "hostname = \"mail.example.org\"\ndata = \"" + dir.resolve(node).resolve("data") + "\"\n[domains.\"example.org\"]\n"
        + "[cluster]\nnode = \"" + node + "\"\n" + cluster);
    return ConfigLoader.load(file);
  }

  @Test
  void aNodeWithBlobsInS3RegistersPutsContentInTheBucketAndSharesTheAccounts() throws Exception {
    String url = POSTGRES.newDatabase();
    S3Proxy s3proxy = S3Proxy.shared();
    try (S3Client s3 = S3Client.builder().endpointOverride(s3proxy.endpoint()).region(Region.US_EAST_1).forcePathStyle(true)
        .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(S3Proxy.ACCESS_KEY, S3Proxy.SECRET_KEY)))
        .httpClient(UrlConnectionHttpClient.create()).build()) {
      s3.createBucket(b -> b.bucket("cluster-node-test"));
    }
    String s3Keys = "blobs = \"s3\"\ns3-endpoint = \"" + s3proxy.endpoint() + "\"\ns3-bucket = \"cluster-node-test\"\ns3-access-key = \""
        + S3Proxy.ACCESS_KEY + "\"\ns3-secret-key = \"" + S3Proxy.SECRET_KEY + "\"\n";
    PostaConfig n1 = config("n1", "database = \"" + url + "\"\n" + s3Keys);
    PostaConfig n2 = config("n2", "database = \"" + url + "\"\n");
    try (Database db1 = Database.open(url, "n1", 4); Database db2 = Database.open(url, "n2", 4);
        ClusterNode node1 = ClusterNode.start(db1, n1, Duration.ofMinutes(1), line -> {});
        ClusterNode node2 = ClusterNode.start(db2, n2, Duration.ofMinutes(1), line -> {})) {
      assertThat(Nodes.list(db1)).extracting(Nodes.Node::name).containsExactly("n1", "n2");
      assertThat(node1.blobs()).isInstanceOf(S3Blobs.class);
      assertThat(node2.blobs()).isInstanceOf(DatabaseBlobs.class);
      byte[] octets = "Subject: via S3\r\n\r\nhello\r\n".getBytes(StandardCharsets.US_ASCII);
      node1.blobs().put(Digest.of(octets), octets.length, new ByteArrayInputStream(octets));
      assertThat(node1.blobs().get(Digest.of(octets)).readAllBytes()).isEqualTo(octets);

      node1.users().add("ada@example.org", "pw-ada-long".toCharArray());
      long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (node2.users().find("ada@example.org").isEmpty() && System.nanoTime() < deadline) Thread.sleep(20);
      assertThat(node2.users().verify("ada@example.org", "pw-ada-long".toCharArray())).isTrue();

      // A second n1 is refused while the first lives.
      try (Database again = Database.open(url, "n1-again", 2)) {
        assertThatThrownBy(() -> ClusterNode.start(again, n1, Duration.ofMinutes(1), line -> {}))
            .isInstanceOf(Nodes.NameTaken.class)
            .hasMessageStartingWith("another node named n1 is alive");
      }
    }
    try (Database db = Database.open(url, "test", 1)) {
      assertThat(Nodes.list(db)).isEmpty(); // both stopped cleanly
    }
  }

  @Test
  void aNodeWhoseBucketCannotBeUsedDoesNotStartAndLeavesNoRow() throws Exception {
    String url = POSTGRES.newDatabase();
    S3Proxy s3proxy = S3Proxy.shared();
    PostaConfig n1 = config("n1", "database = \"" + url + "\"\nblobs = \"s3\"\ns3-endpoint = \"" + s3proxy.endpoint()
        + "\"\ns3-bucket = \"no-such-bucket\"\ns3-access-key = \"" + S3Proxy.ACCESS_KEY + "\"\ns3-secret-key = \"" + S3Proxy.SECRET_KEY + "\"\n");
    try (Database db = Database.open(url, "n1", 2)) {
      assertThatThrownBy(() -> ClusterNode.start(db, n1, Duration.ofMinutes(1), line -> {}))
          .isInstanceOf(IOException.class)
          .hasMessage("the S3 bucket no-such-bucket at " + s3proxy.endpoint() + " cannot be used: 404 no such bucket");
      assertThat(Nodes.list(db)).isEqualTo(List.of());
    }
  }
}
