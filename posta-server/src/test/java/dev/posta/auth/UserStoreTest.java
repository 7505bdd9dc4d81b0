package dev.posta.auth;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class UserStoreTest {
  /** One real account line, made once: Argon2id is slow on purpose. */
  static String aliceLine;

  @TempDir Path data;
  final AtomicLong clock = new AtomicLong();

  @BeforeAll
  static void makeOneLine(@TempDir Path dir) throws Exception {
    var store = new UserStore(dir);
    store.add("alice@example.org", "secret".toCharArray());
    aliceLine = Files.readAllLines(dir.resolve("users")).get(1);
  }

  UserStore store() {
    return new UserStore(data, clock::get);
  }

  void writeFile(String... lines) throws Exception {
    Path tmp = data.resolve("users.new");
    Files.write(tmp, List.of(lines));
    Files.move(tmp, data.resolve("users"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  @Test
  void theFileHasOneTabSeparatedLineAUserUnderAHeader() throws Exception {
    assertThat(aliceLine).matches("alice@example\\.org\t\\$argon2id\\$v=19\\$m=19456,t=2,p=1\\$[A-Za-z0-9+/]{22}\\$[A-Za-z0-9+/]{43}"
        + "\tSCRAM-SHA-256\\$4096:[A-Za-z0-9+/]{22}==\\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=");
  }

  @Test
  void aLoginVerifiedLatelyCostsNoSecondArgon2CheckUntilThePasswordChanges() throws Exception {
    var users = store();
    users.add("dora@example.org", "first".toCharArray());
    int before = UserStore.CHECKED.get();
    assertThat(users.verify("dora@example.org", "first".toCharArray())).isTrue();
    assertThat(users.verify("DORA@example.org", "first".toCharArray())).isTrue();
    assertThat(users.verify("dora@example.org", "first".toCharArray())).isTrue();
    assertThat(UserStore.CHECKED.get() - before).as("one check for three logins").isEqualTo(1);
    assertThat(users.verify("dora@example.org", "wrong".toCharArray())).isFalse();
    assertThat(users.verify("dora@example.org", "wrong".toCharArray())).isFalse();
    assertThat(UserStore.CHECKED.get() - before).as("a failure is never remembered: checked each time").isEqualTo(3);
    users.setPassword("dora@example.org", "second".toCharArray());
    assertThat(users.verify("dora@example.org", "first".toCharArray())).as("the old password, remembered, no longer opens").isFalse();
    assertThat(users.verify("dora@example.org", "second".toCharArray())).isTrue();
  }

  @Test
  void addVerifyChangeRemove() throws Exception {
    var users = store();
    assertThat(users.list()).isEmpty();
    users.add("Bob@Example.ORG", "first".toCharArray());
    assertThat(users.list()).containsExactly("bob@example.org");
    assertThat(users.find("BOB@example.org")).hasValueSatisfying(u -> assertThat(u.address()).isEqualTo("bob@example.org"));
    assertThat(users.verify("bob@example.org", "first".toCharArray())).isTrue();
    assertThat(users.verify("bob@example.org", "second".toCharArray())).isFalse();
    assertThat(users.verify("carol@example.org", "first".toCharArray())).isFalse();
    assertThat(users.verify("not an address", "first".toCharArray())).isFalse();

    users.setPassword("bob@example.org", "second".toCharArray());
    assertThat(users.verify("bob@example.org", "second".toCharArray())).isTrue();
    assertThat(users.verify("bob@example.org", "first".toCharArray())).isFalse();
    assertThat(users.find("bob@example.org").orElseThrow().scram())
        .isEqualTo(ScramCredentials.derive("second".toCharArray(), users.find("bob@example.org").orElseThrow().scram().salt(), 4096));

    users.remove("BOB@example.org");
    assertThat(users.find("bob@example.org")).isEmpty();
    assertThat(users.list()).isEmpty();
    assertThat(Files.readAllLines(users.file())).containsExactly(
        "# Posta accounts: address TAB argon2id TAB SCRAM-SHA-256 [TAB admin,disabled]. Change with `posta user`.");
  }

  interface Change {
    void apply(UserStore users) throws Exception;
  }

  static Stream<Arguments> refusedChanges() {
    return Stream.of(
        Arguments.of("add existing", (Change) u -> u.add("ALICE@example.org", "x".toCharArray()), "alice@example.org already exists"),
        Arguments.of("add empty password", (Change) u -> u.add("bob@example.org", new char[0]), "empty password refused"),
        Arguments.of("add control character", (Change) u -> u.add("bob@example.org", "a\nb".toCharArray()), "password contains control characters"),
        Arguments.of("add no domain", (Change) u -> u.add("bob", "x".toCharArray()), "not a valid address (local@domain, without spaces)"),
        Arguments.of("add two @", (Change) u -> u.add("a@b@example.org", "x".toCharArray()), "not a valid address (local@domain, without spaces)"),
        Arguments.of("add space", (Change) u -> u.add("bo b@example.org", "x".toCharArray()), "not a valid address (local@domain, without spaces)"),
        Arguments.of("add tab", (Change) u -> u.add("bob@example.org\tx", "x".toCharArray()), "not a valid address (local@domain, without spaces)"),
        Arguments.of("add comment", (Change) u -> u.add("#bob@example.org", "x".toCharArray()), "not a valid address (local@domain, without spaces)"),
        Arguments.of("passwd unknown", (Change) u -> u.setPassword("bob@example.org", "x".toCharArray()), "no such user: bob@example.org"),
        Arguments.of("remove unknown", (Change) u -> u.remove("bob@example.org"), "no such user: bob@example.org"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("refusedChanges")
  void refusedChangesLeaveTheFileAsItWas(String name, Change change, String message) throws Exception {
    writeFile("# mine", aliceLine);
    byte[] before = Files.readAllBytes(data.resolve("users"));
    assertThatThrownBy(() -> change.apply(store())).isInstanceOf(UserStore.UserException.class).hasMessage(message);
    assertThat(Files.readAllBytes(data.resolve("users"))).isEqualTo(before);
  }

  @Test
  void commentsAndUnusableLinesAreSkippedOnReadAndKeptOnRewrite() throws Exception {
    String[] parts = aliceLine.split("\t");
    writeFile(
        "# accounts",
        "",
        "no tabs here",
        "bad address@example.org\t" + parts[1] + "\t" + parts[2],
        "carol@example.org\t$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$VTYAepFZ1sV9bY+0uw8EOB609LE4jAqzxpZF08BYV/s\t" + parts[2],
        "dave@example.org\t" + parts[1] + "\tSCRAM-SHA-1$x",
        "ALICE@EXAMPLE.ORG\t" + parts[1] + "\t" + parts[2],
        "alice@example.org\tduplicate\tignored");
    var users = store();
    assertThat(users.list()).containsExactly("alice@example.org");
    assertThat(users.verify("alice@example.org", "secret".toCharArray())).isTrue();

    users.remove("alice@example.org");
    assertThat(Files.readAllLines(data.resolve("users"))).containsExactly(
        "# accounts",
        "",
        "no tabs here",
        "bad address@example.org\t" + parts[1] + "\t" + parts[2],
        "carol@example.org\t$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$VTYAepFZ1sV9bY+0uw8EOB609LE4jAqzxpZF08BYV/s\t" + parts[2],
        "dave@example.org\t" + parts[1] + "\tSCRAM-SHA-1$x");
  }

  @Test
  void setPasswordReplacesTheLineInPlace() throws Exception {
    writeFile("# a", aliceLine, "# b");
    var users = store();
    users.setPassword("alice@example.org", "other".toCharArray());
    List<String> lines = Files.readAllLines(data.resolve("users"));
    assertThat(lines).hasSize(3);
    assertThat(lines.get(0)).isEqualTo("# a");
    assertThat(lines.get(1)).startsWith("alice@example.org\t$argon2id$").isNotEqualTo(aliceLine);
    assertThat(lines.get(2)).isEqualTo("# b");
  }

  @Test
  void writesAreAtomicRenamesOfOwnerOnlyFilesAndLeaveNothingBehind() throws Exception {
    writeFile(aliceLine);
    Path file = data.resolve("users");
    Object inodeBefore = Files.readAttributes(file, BasicFileAttributes.class).fileKey();
    try (var reader = Files.newBufferedReader(file, UTF_8)) {
      store().remove("alice@example.org");
      // The old file is still whole for anyone who had it open: the new one was renamed over it.
      assertThat(reader.readLine()).isEqualTo(aliceLine);
    }
    assertThat(Files.readAttributes(file, BasicFileAttributes.class).fileKey()).isNotEqualTo(inodeBefore);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(data.resolve("users.lock")))).isEqualTo("rw-------");
    try (Stream<Path> files = Files.list(data)) {
      assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("users", "users.lock");
    }
  }

  @Test
  void aNewFileIsOwnerOnlyAndTheDataFolderIsMadeWhenMissing() throws Exception {
    Path nested = data.resolve("a/b");
    var users = new UserStore(nested);
    users.add("bob@example.org", "x".toCharArray());
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(nested.resolve("users")))).isEqualTo("rw-------");
  }

  @Test
  void anotherProcesssChangesAreSeenAtTheNextCheckAtMostASecondLater() throws Exception {
    var server = store();
    assertThat(server.list()).isEmpty();
    writeFile(aliceLine); // as `posta user add` in another process would
    clock.addAndGet(999_000_000L);
    assertThat(server.list()).as("not re-checked within the second").isEmpty();
    clock.addAndGet(1_000_000L);
    assertThat(server.list()).containsExactly("alice@example.org");

    // Same size, maybe the same mtime: the rename still gives a new inode.
    writeFile(aliceLine.replace("alice", "alixe"));
    clock.addAndGet(1_000_000_000L);
    assertThat(server.list()).containsExactly("alixe@example.org");

    Files.delete(data.resolve("users"));
    clock.addAndGet(1_000_000_000L);
    assertThat(server.list()).isEmpty();
  }

  @Test
  void changesThroughAnotherInstanceAreNotLostAndOwnChangesShowAtOnce() throws Exception {
    var server = store();
    var cli = store();
    assertThat(server.list()).isEmpty();
    cli.add("bob@example.org", "x".toCharArray());
    assertThat(cli.list()).containsExactly("bob@example.org");
    server.remove("bob@example.org"); // re-reads under the lock, though its snapshot is stale
    assertThat(server.list()).isEmpty();
    clock.addAndGet(1_000_000_000L);
    assertThat(cli.list()).isEmpty();
  }

  @Test
  void concurrentAddsAndLogins() throws Exception {
    writeFile(aliceLine);
    var one = store();
    var two = new UserStore(data); // a second instance on the same file, as another process
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Callable<Boolean>> tasks = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        String address = "user" + i + "@example.org";
        var store = i % 2 == 0 ? one : two;
        tasks.add(() -> {
          store.add(address, "pw".toCharArray());
          return true;
        });
        tasks.add(() -> one.verify("alice@example.org", "secret".toCharArray()));
      }
      for (Future<Boolean> f : pool.invokeAll(tasks)) assertThat(f.get()).isTrue();
    } finally {
      pool.shutdown();
    }
    clock.addAndGet(1_000_000_000L);
    List<String> all = List.of("alice@example.org", "user0@example.org", "user1@example.org", "user2@example.org", "user3@example.org");
    assertThat(one.list()).containsExactlyElementsOf(all);
    assertThat(new UserStore(data).list()).containsExactlyElementsOf(all);
  }

  @Test
  void unreadableFileIsAnErrorNotAnEmptyStore() throws Exception {
    Files.createDirectory(data.resolve("users")); // reading a folder fails
    assertThatThrownBy(() -> store().find("alice@example.org")).isInstanceOf(java.io.IOException.class);
  }

  static Stream<Arguments> addresses() {
    return Stream.of(
        Arguments.of("Alice@Example.ORG", "alice@example.org"),
        Arguments.of("alice@B\u00fccher.example", "alice@xn--bcher-kva.example"),
        Arguments.of("\uff41lice@example.org", "alice@example.org"), // fullwidth a, NFKC
        Arguments.of("a,b=c@example.org", "a,b=c@example.org"));
  }

  @ParameterizedTest
  @MethodSource("addresses")
  void canonicalAddresses(String address, String canonical) {
    assertThat(UserStore.canonicalAddress(address)).isEqualTo(canonical);
  }

  /**
   * The plain-ASCII shortcut (no NFKC or IDNA tables loaded) gives what the full rules give,
   * and what it does not take goes through them: mixed case, atext, hyphens, a 63-character
   * label (64: refused by both); a trailing dot, a label starting with a hyphen, an empty label, a leading #.
   */
  @ParameterizedTest
  @ValueSource(strings = {"Alice@Example.ORG", "o'neil+tag@mail-1.Example.org", "a.b_c~d@x.y", "x@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example", "x@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
      "a@b.example.", "a@-b.example", "a@b..example", "#a@b.example", "a@b", "a b@c.example"})
  void thePlainAddressShortcutAgreesWithNfkcAndIdna(String address) {
    String full;
    try {
      String a = java.text.Normalizer.normalize(address, java.text.Normalizer.Form.NFKC);
      int at = a.indexOf('@');
      boolean ok = at > 0 && at == a.lastIndexOf('@') && at < a.length() - 1 && !a.startsWith("#")
          && a.chars().noneMatch(c -> Character.isWhitespace(c) || Character.isISOControl(c));
      String domain = ok ? java.net.IDN.toASCII(a.substring(at + 1)).toLowerCase(java.util.Locale.ROOT) : "";
      full = ok && !domain.isEmpty() ? a.substring(0, at).toLowerCase(java.util.Locale.ROOT) + "@" + domain : "refused";
    } catch (IllegalArgumentException e) {
      full = "refused";
    }
    String got;
    try {
      got = UserStore.canonicalAddress(address);
    } catch (IllegalArgumentException e) {
      got = "refused";
    }
    assertThat(got).isEqualTo(full);
  }

  /**
   * Issue 10: each Argon2id check takes ~19 MiB, so a flood of logins must not run them all at
   * once. 16 parallel checks (half right, half wrong) all get the right answer, and no more than
   * {@link UserStore#CONCURRENT_CHECKS} ever run at the same time.
   */
  @Test
  void concurrentPasswordChecksAreBounded(@TempDir Path dir) throws Exception {
    UserStore users = new UserStore(dir);
    users.add("alice@example.org", "right".toCharArray());
    UserStore.PEAK_CHECKING.set(0);
    ExecutorService pool = Executors.newFixedThreadPool(16);
    try {
      var start = new java.util.concurrent.CountDownLatch(1);
      List<Future<Boolean>> results = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        char[] password = (i % 2 == 0 ? "right" : "wrong").toCharArray();
        results.add(pool.submit(() -> {
          start.await();
          return users.verify("alice@example.org", password);
        }));
      }
      start.countDown();
      for (int i = 0; i < 16; i++) assertThat(results.get(i).get()).isEqualTo(i % 2 == 0);
    } finally {
      pool.shutdownNow();
    }
    assertThat(UserStore.PEAK_CHECKING.get()).isBetween(1, UserStore.CONCURRENT_CHECKS);
  }

  /** A check that finds every slot taken waits no longer than it is told, then fails as busy, not as a wrong password. */
  @Test
  void aPasswordCheckWaitsForASlotOnlyAsLongAsTold(@TempDir Path dir) throws Exception {
    UserStore users = new UserStore(dir, java.time.Duration.ofMillis(50));
    users.add("alice@example.org", "right".toCharArray());
    UserStore.CHECKS.acquire(UserStore.CONCURRENT_CHECKS);
    try {
      assertThatThrownBy(() -> users.verify("alice@example.org", "right".toCharArray()))
          .isInstanceOf(java.io.IOException.class).hasMessageContaining("no password check slot free");
    } finally {
      UserStore.CHECKS.release(UserStore.CONCURRENT_CHECKS);
    }
    assertThat(users.verify("alice@example.org", "right".toCharArray())).isTrue();
  }
}
