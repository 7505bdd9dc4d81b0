package dev.posta.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import jakarta.mail.Flags;
import jakarta.mail.Folder;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Store;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.search.SubjectTerm;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.angus.mail.imap.IMAPFolder;
import org.eclipse.angus.mail.imap.IMAPStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Jakarta Mail (Eclipse Angus) as the IMAP client: what a Java application reading mail sees. */
class AngusImapTest {
  @TempDir Path data;

  private static Store connect(TestServer server, String protocol, int port) throws Exception {
    var props = new Properties();
    props.setProperty("mail." + protocol + ".starttls.required", Boolean.toString(protocol.equals("imap")));
    props.setProperty("mail." + protocol + ".connectiontimeout", "10000");
    props.setProperty("mail." + protocol + ".timeout", "10000");
    props.put("mail." + protocol + ".ssl.socketFactory", server.clientTls().getSocketFactory());
    props.setProperty("mail." + protocol + ".ssl.checkserveridentity", "false");
    Store store = Session.getInstance(props).getStore(protocol);
    store.connect("127.0.0.1", port, "me@localhost", "secret");
    return store;
  }

  private static void deliver(TestServer server, String subject) throws Exception {
    try (var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      smtp.envelope("sender@client.example", "me@localhost");
      assertThat(smtp.data("From: sender@client.example\r\nSubject: " + subject
          + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBody of " + subject + "\r\n")).startsWith("250 ");
    }
  }

  @Test
  void readsFlagsAppendsAndMovesOverStartTls() throws Exception {
    try (var server = TestServer.start(data).addUser("me@localhost", "secret")) {
      deliver(server, "Invoice 42");
      server.awaitMail("me", 1);
      Store store = connect(server, "imap", server.imapPort());
      try {
        Folder inbox = store.getFolder("INBOX");
        inbox.open(Folder.READ_WRITE);
        assertThat(inbox.getMessageCount()).isEqualTo(1);
        Message m = inbox.getMessage(1);
        assertThat(m.getSubject()).isEqualTo("Invoice 42");
        assertThat(m.getFrom()).containsExactly(new InternetAddress("sender@client.example"));
        assertThat(((String) m.getContent()).trim()).isEqualTo("Body of Invoice 42");
        assertThat(m.isSet(Flags.Flag.SEEN)).as("reading the body sets \\Seen").isTrue();
        m.setFlag(Flags.Flag.FLAGGED, true);
        assertThat(inbox.search(new SubjectTerm("invoice"))).hasSize(1);

        Folder sent = store.getFolder("Sent");
        var draft = new MimeMessage((Session) null);
        draft.setFrom("me@localhost");
        draft.setSubject("Copy of what I sent");
        draft.setText("Sent text");
        draft.saveChanges();
        sent.appendMessages(new Message[] {draft});
        sent.open(Folder.READ_ONLY);
        assertThat(sent.getMessage(1).getSubject()).isEqualTo("Copy of what I sent");
        sent.close();

        ((IMAPFolder) inbox).moveMessages(new Message[] {m}, store.getFolder("Archive"));
        assertThat(m.isExpunged()).as("MOVE's EXPUNGE heard").isTrue();
        inbox.close();
        inbox.open(Folder.READ_ONLY);
        assertThat(inbox.getMessageCount()).isZero();
        inbox.close();
        Folder archive = store.getFolder("Archive");
        archive.open(Folder.READ_ONLY);
        Message moved = archive.getMessage(1);
        assertThat(moved.getSubject()).isEqualTo("Invoice 42");
        assertThat(moved.getFlags().contains(Flags.Flag.FLAGGED)).isTrue();
        archive.close();
      } finally {
        store.close();
      }
    }
  }

  @Test
  void idleOverImplicitTlsHearsOfNewMail() throws Exception {
    try (var server = TestServer.start(data).addUser("me@localhost", "secret")) {
      Store store = connect(server, "imaps", server.imapsPort());
      try {
        assertThat(((IMAPStore) store).hasCapability("IDLE")).isTrue();
        var inbox = (IMAPFolder) store.getFolder("INBOX");
        inbox.open(Folder.READ_ONLY);
        var heard = new CompletableFuture<Integer>();
        inbox.addMessageCountListener(new jakarta.mail.event.MessageCountAdapter() {
          @Override
          public void messagesAdded(jakarta.mail.event.MessageCountEvent e) {
            heard.complete(e.getMessages().length);
          }
        });
        var idling = CompletableFuture.runAsync(() -> {
          try {
            inbox.idle(true); // returns after the first news
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        });
        Thread.sleep(300); // let IDLE start
        deliver(server, "While idling");
        assertThat(heard.get(5, TimeUnit.SECONDS)).isEqualTo(1);
        idling.get(5, TimeUnit.SECONDS);
        assertThat(inbox.getMessage(1).getSubject()).isEqualTo("While idling");
        inbox.close();
      } finally {
        store.close();
      }
    }
  }
}
