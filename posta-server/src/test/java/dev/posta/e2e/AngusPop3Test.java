package dev.posta.e2e;

import static dev.posta.e2e.ImapClients.postaView;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.TestServer;
import jakarta.mail.Flags;
import jakarta.mail.Folder;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Store;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Properties;
import org.eclipse.angus.mail.pop3.POP3Folder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Jakarta Mail (Eclipse Angus) with its POP3 provider as the client: what a Java application
 * downloading mail sees. It logs in with AUTH PLAIN after STLS, with USER/PASS over implicit TLS;
 * headers come by TOP, content by RETR, unique-ids by UIDL; a message flagged deleted goes at the
 * folder's close, with QUIT.
 */
class AngusPop3Test {
  @TempDir Path temp;

  /** What Jakarta Mail said and heard (its debug output). */
  private final ByteArrayOutputStream dialogue = new ByteArrayOutputStream();

  private String uidOfFirst;

  private Store connect(TestServer server, String protocol, int port) throws Exception {
    var props = new Properties();
    props.setProperty("mail." + protocol + ".starttls.enable", Boolean.toString(protocol.equals("pop3")));
    props.setProperty("mail." + protocol + ".starttls.required", Boolean.toString(protocol.equals("pop3")));
    props.setProperty("mail." + protocol + ".connectiontimeout", "10000");
    props.setProperty("mail." + protocol + ".timeout", "10000");
    props.put("mail." + protocol + ".ssl.socketFactory", server.clientTls().getSocketFactory());
    props.setProperty("mail." + protocol + ".ssl.checkserveridentity", "false");
    // Over STLS with AUTH PLAIN (RFC 5034), over implicit TLS with USER/PASS (Angus's default).
    if (protocol.equals("pop3")) props.setProperty("mail.pop3.auth.mechanisms", "PLAIN");
    Session session = Session.getInstance(props);
    session.setDebug(true);
    session.setDebugOut(new PrintStream(dialogue, true, StandardCharsets.UTF_8));
    Store store = session.getStore(protocol);
    store.connect("127.0.0.1", port, ImapClients.USER, ImapClients.PASSWORD);
    return store;
  }

  @Test
  void readsHeadersContentAndUidsThenDeletesAtCloseOverStls() throws Exception {
    try (var server = TestServer.start(temp).addUser(ImapClients.USER, ImapClients.PASSWORD)) {
      ImapClients.deliver(server, "Invoice 42");
      ImapClients.deliver(server, "Lunch");
      Store store = connect(server, "pop3", server.pop3Port());
      try {
        var inbox = (POP3Folder) store.getFolder("INBOX");
        inbox.open(Folder.READ_WRITE);
        assertThat(inbox.getMessageCount()).isEqualTo(2);
        Message first = inbox.getMessage(1);
        Message second = inbox.getMessage(2);
        assertThat(first.getSubject()).isEqualTo("Invoice 42");
        assertThat(second.getSubject()).isEqualTo("Lunch");
        assertThat(((String) first.getContent()).trim()).isEqualTo("This is Invoice 42.");
        assertThat(first.getSize()).as("the size LIST gave").isPositive();
        String uid = inbox.getUID(first);
        uidOfFirst = uid;
        assertThat(uid).matches("00000001[0-9a-f]{8}");
        assertThat(inbox.getUID(second)).isEqualTo("00000002" + uid.substring(8));
        first.setFlag(Flags.Flag.DELETED, true);
        inbox.close(true);
      } finally {
        store.close();
      }
      assertThat(postaView(server, "INBOX")).as("the deleted one gone; the other only read by TOP").containsExactly("Lunch []");
      assertThat(dialogue.toString(StandardCharsets.UTF_8)).as("Jakarta Mail's debug output")
          .contains("\nSTLS\n+OK Begin TLS negotiation\n", "\nDEBUG POP3: AUTH PLAIN succeeded\n", "\nTOP 2 0\n+OK Top of message follows\n",
              "\nLIST 1\nRETR 1\n+OK 1 ", "\nUIDL 1\n+OK 1 " + uidOfFirst + "\n", "\nDELE 1\n+OK Message 1 deleted\nQUIT\n+OK Bye (1 message left)\n");
    }
  }

  @Test
  void countsOverImplicitTls() throws Exception {
    try (var server = TestServer.start(temp).addUser(ImapClients.USER, ImapClients.PASSWORD)) {
      ImapClients.deliver(server, "Over 995");
      Store store = connect(server, "pop3s", server.pop3sPort());
      try {
        Folder inbox = store.getFolder("INBOX");
        inbox.open(Folder.READ_ONLY);
        assertThat(inbox.getMessageCount()).isEqualTo(1);
        assertThat(inbox.getMessage(1).getSubject()).isEqualTo("Over 995");
        inbox.close(false);
      } finally {
        store.close();
      }
      assertThat(postaView(server, "INBOX")).as("headers only: not seen, not deleted").containsExactly("Over 995 []");
    }
  }
}
