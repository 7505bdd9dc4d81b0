package dev.posta.imap;

import dev.posta.store.CrlfContent;
import dev.posta.store.Flags;
import dev.posta.store.Folder;
import dev.posta.store.MessageInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import java.time.LocalDate;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Whether a message meets a SEARCH criterion (RFC 9051 §6.4.4, RFC 7162 §3.1.5). Keys on
 * flags, sizes, dates and numbers use the index alone; keys on headers and text read and parse
 * the message ({@link MessageStructure}), once per message however many such keys there are.
 * Substrings match case-insensitively, on header values decoded from RFC 2047 and on text
 * decoded from its transfer encoding and charset.
 */
final class Search {
  private final Folder folder;
  private final SelectedFolder selected;
  private final Set<Long> recent;
  private final java.util.Map<SequenceSet, SequenceSet.Resolved> resolved = new java.util.HashMap<>();
  private MessageStructure structure;
  private long structureUid = -1;
  /** No key looks at the body: a message's header is all that is read. */
  private final boolean headerOnly;

  Search(Folder folder, SelectedFolder selected, Set<Long> recent, SearchKey key) {
    this.folder = folder;
    this.selected = selected;
    this.recent = recent;
    this.headerOnly = !readsBody(key);
  }

  private static boolean readsBody(SearchKey key) {
    return switch (key) {
      case SearchKey.Text t -> true;
      case SearchKey.And and -> and.keys().stream().anyMatch(Search::readsBody);
      case SearchKey.Or or -> readsBody(or.left()) || readsBody(or.right());
      case SearchKey.Not not -> readsBody(not.key());
      default -> false;
    };
  }

  boolean matches(SearchKey key, int seq, MessageInfo m) throws IOException {
    try {
      return test(key, seq, m);
    } catch (UncheckedIOException e) {
      if (e.getCause() instanceof NoSuchFileException) return false; // expunged this moment
      throw e.getCause();
    }
  }

  private boolean test(SearchKey key, int seq, MessageInfo m) {
    return switch (key) {
      case SearchKey.All a -> true;
      case SearchKey.And and -> and.keys().stream().allMatch(k -> test(k, seq, m));
      case SearchKey.Or or -> test(or.left(), seq, m) || test(or.right(), seq, m);
      case SearchKey.Not not -> !test(not.key(), seq, m);
      case SearchKey.Flag f -> ((m.flags() & Flags.ofName("\\" + f.flag())) != 0) == f.set();
      case SearchKey.Keyword k -> folder.keywordsOf(m.flags()).stream().anyMatch(n -> n.equalsIgnoreCase(k.keyword())) == k.set();
      case SearchKey.Recent r -> switch (r.which()) {
        case "NEW" -> recent.contains(m.uid()) && (m.flags() & Flags.SEEN) == 0;
        case "OLD" -> !recent.contains(m.uid());
        default -> recent.contains(m.uid());
      };
      case SearchKey.Header h -> header(h, m);
      case SearchKey.Text t -> t.withHeader() ? content(m).textContains(t.value()) : content(m).bodyContains(t.value());
      case SearchKey.Date d -> date(d, m);
      case SearchKey.Size s -> s.larger() ? m.size() > s.size() : m.size() < s.size();
      case SearchKey.Messages n -> messages(n, seq, m);
      case SearchKey.ModSeq s -> m.modseq() >= s.modseq();
    };
  }

  private boolean header(SearchKey.Header h, MessageInfo m) {
    List<String> values = content(m).headerValues(h.field());
    if (h.value().isEmpty()) return !values.isEmpty(); // RFC 9051: an empty string matches a field that is there
    String needle = MessageStructure.fold(h.value());
    return values.stream().anyMatch(v -> MessageStructure.fold(v).contains(needle));
  }

  private boolean date(SearchKey.Date d, MessageInfo m) {
    LocalDate date = d.sent() ? content(m).sentDate() : LocalDate.ofInstant(internalDate(m), SelectedFolder.zone());
    if (date == null) return false;
    return switch (d.when()) {
      case BEFORE -> date.isBefore(d.date());
      case ON -> date.isEqual(d.date());
      case SINCE -> !date.isBefore(d.date());
    };
  }

  private boolean messages(SearchKey.Messages n, int seq, MessageInfo m) {
    if (n.set().saved()) return Arrays.stream(selected.savedResult()).anyMatch(u -> u == m.uid());
    long star = !n.uid() ? selected.count() : selected.count() == 0 ? 0 : selected.uidAt(selected.count() - 1);
    SequenceSet.Resolved r = resolved.computeIfAbsent(n.set(), s -> s.resolve(star));
    return r.contains(n.uid() ? m.uid() : seq);
  }

  private java.time.Instant internalDate(MessageInfo m) {
    try {
      return SelectedFolder.internalDate(folder, m.uid());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private MessageStructure content(MessageInfo m) {
    if (structureUid != m.uid()) {
      try {
        structure = MessageStructure.parse(headerOnly ? CrlfContent.header(folder, m.uid()) : CrlfContent.read(folder, m.uid()));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      structureUid = m.uid();
    }
    return structure;
  }

  /** Whether the criterion names MODSEQ, so the response carries the highest one (RFC 7162 §3.1.5). */
  static boolean usesModSeq(SearchKey key) {
    return switch (key) {
      case SearchKey.ModSeq s -> true;
      case SearchKey.And and -> and.keys().stream().anyMatch(Search::usesModSeq);
      case SearchKey.Or or -> usesModSeq(or.left()) || usesModSeq(or.right());
      case SearchKey.Not not -> usesModSeq(not.key());
      default -> false;
    };
  }
}
