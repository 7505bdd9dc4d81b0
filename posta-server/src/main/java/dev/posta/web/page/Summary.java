package dev.posta.web.page;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.apache.james.mime4j.codec.DecodeMonitor;
import org.apache.james.mime4j.dom.Message;
import org.apache.james.mime4j.dom.address.Address;
import org.apache.james.mime4j.dom.address.AddressList;
import org.apache.james.mime4j.dom.address.Mailbox;
import org.apache.james.mime4j.dom.address.MailboxList;
import org.apache.james.mime4j.message.DefaultMessageBuilder;
import org.apache.james.mime4j.stream.MimeConfig;

/**
 * What a message list shows of a message and searches by, from its header section alone: the
 * sender's name and address, the recipients of To: and Cc: ("Name address" each), the subject,
 * decoded from RFC 2047 encoded words. Parsed by Apache mime4j as the API's {@code MessageView}
 * is, leniently: a malformed field reads as absent, never fails the list.
 */
record Summary(String fromName, String fromAddress, List<String> recipients, String subject) {
  /** The summary of a header section (CRLF line ends, as {@code store.CrlfContent#header} gives it). */
  static Summary of(byte[] header) throws IOException {
    DefaultMessageBuilder builder = new DefaultMessageBuilder();
    builder.setMimeEntityConfig(MimeConfig.PERMISSIVE);
    builder.setDecodeMonitor(DecodeMonitor.SILENT);
    Message m;
    try {
      m = builder.parseMessage(new ByteArrayInputStream(header));
    } catch (org.apache.james.mime4j.MimeIOException e) {
      throw new IOException("unreadable message: " + e.getMessage(), e);
    }
    String fromName = null, fromAddress = null;
    MailboxList from = safe(m::getFrom);
    if (from != null && !from.isEmpty()) {
      fromName = from.get(0).getName();
      fromAddress = from.get(0).getAddress();
    }
    List<String> recipients = new ArrayList<>();
    add(recipients, safe(m::getTo));
    add(recipients, safe(m::getCc));
    String subject = safe(m::getSubject);
    return new Summary(fromName, fromAddress, recipients, subject == null ? "" : subject.strip());
  }

  /** The sender as a list shows it: the name when there is one, else the address, else a dash. */
  String sender() {
    if (fromName != null && !fromName.isBlank()) return fromName.strip();
    return fromAddress != null ? fromAddress : "—";
  }

  private static void add(List<String> out, AddressList list) {
    if (list == null) return;
    for (Address a : list) {
      for (Mailbox mb : a instanceof Mailbox one ? List.of(one) : new AddressList(List.of(a), true).flatten()) {
        out.add(mb.getName() == null ? mb.getAddress() : mb.getName() + " " + mb.getAddress());
      }
    }
  }

  private static <T> T safe(Supplier<T> getter) {
    try {
      return getter.get();
    } catch (RuntimeException e) {
      return null;
    }
  }
}
