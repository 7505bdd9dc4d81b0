package dev.posta.web.page;

import java.util.List;

/**
 * What each template (src/main/jte) shows, as plain values: every string here is text, escaped
 * by the templates (jte's HTML output escapes by context), and every link is made here, its
 * parts URL-encoded ({@link Links}). A new page is a template taking one of these.
 */
public final class Views {
  private Views() {}

  /**
   * What every page's frame needs ({@code layout.jte}): the title, the signed-in account and its
   * CSRF token for the sign-out form (null when nobody is signed in), the stylesheet's versioned
   * URL, and scripts (same-origin URLs from {@link StaticFiles}), usually none. {@code admin}:
   * the account is an administrator's, so the top bar links the operators' pages; {@code
   * section} is the one shown ({@link Section}).
   */
  public record Layout(String title, String account, String csrf, String stylesheet, List<String> scripts, boolean admin, Section section) {
    public Layout withTitle(String newTitle) {
      return new Layout(newTitle, account, csrf, stylesheet, scripts, admin, section);
    }

    public Layout in(Section newSection) {
      return new Layout(title, account, csrf, stylesheet, scripts, admin, newSection);
    }
  }

  /** The parts of the site the top bar links an administrator to: their own mail, and the operators' pages ({@link OperatorPages}). */
  public enum Section {
    MAIL("Mail", "/mail/INBOX"), SERVER("Server", "/admin"), QUEUE("Queue", "/admin/queue"), USERS("Users", "/admin/users"),
    DOMAINS("Domains", "/admin/domains");

    public final String label;
    public final String href;

    Section(String label, String href) {
      this.label = label;
      this.href = href;
    }
  }

  /** The sign-in form: its own CSRF token, the address typed (kept after a wrong password), and a message or null. */
  public record SignInPage(Layout layout, String csrf, String address, String error) {}

  /** A folder in the sidebar, with its counts; {@code folder} is its name in the store, as live updates name it. */
  public record FolderLink(String name, String href, int messages, int unseen, boolean current, String folder) {
    /** A count as a person reads it: 100,000. */
    public static String shown(int n) {
      return Figures.number(n);
    }
  }

  /** One message in a list: who it is from (a name when it has one), subject, arrival, size, marks. */
  public record MessageRow(long uid, String href, String from, String fromAddress, String subject, String date, String size, boolean seen,
      boolean flagged) {}

  /** The search form's fields as given (empty strings when not), and whether any is set. */
  public record SearchFields(String from, String to, String subject, String text, String since, String before) {
    public boolean active() {
      return !(from.isEmpty() && to.isEmpty() && subject.isEmpty() && text.isEmpty() && since.isEmpty() && before.isEmpty());
    }
  }

  /** Links to other pages of a list (null: no such page), and where this page is. */
  public record Pager(String first, String previous, String where, String next, String last) {}

  /**
   * A folder's message list. For live updates ({@code posta.js}): the folder's name in the store,
   * its UIDNEXT when the page was made, and whether new mail refreshes the list in place (the
   * first page, no search) or is only told of. {@code notice}: a line above the list, or null.
   */
  public record MailPage(Layout layout, List<FolderLink> folders, String folder, String action, String summary, SearchFields search,
      List<MessageRow> rows, Pager pager, String storeFolder, long uidNext, boolean refreshes, String notice) {}

  /** A name and its value: a line of the header summary, or one header field. */
  public record Line(String name, String value) {}

  /** An option of a select: the value posted, and what a person reads. */
  public record Choice(String value, String label) {}

  /** An attachment's download link, with what the list shows of it. */
  public record AttachmentLink(String name, String type, String size, String href) {}

  /**
   * One message ({@link MessagePages}): its subject and header summary; the text part (null when
   * none); the URL of the sanitized HTML part for the sandboxed frame (null when none), how many
   * remote images it blocked and the link that shows them (null once shown or when none); every
   * header field; the raw source's URL; the attachments; what was left out while reading
   * ({@code notes}); where its forms post ({@code action}), its marks, the folders it can move to,
   * whether it is in Trash (delete is then for good), and the compose form's links to answer or
   * forward it.
   */
  public record MessagePage(Layout layout, List<FolderLink> folders, String folder, String back, String subject, List<Line> summary, String text,
      String frame, int blockedImages, String showImages, List<Line> headers, String raw, List<AttachmentLink> attachments, List<String> notes,
      String action, boolean seen, boolean flagged, List<Choice> moveTargets, boolean inTrash, String reply, String replyAll, String forward) {}

  /**
   * The compose form ({@link ComposePages}): a new message, a reply (to its sender, or to all)
   * or a forward. The fields as typed or prefilled; {@code mode}, {@code folder} and {@code uid}
   * name what it answers or forwards (posted back as hidden fields, with {@code inReplyTo} and
   * {@code references}); {@code forwarded} is the original's file name and size when it goes
   * along attached (null otherwise); {@code error} the refusal (with the SMTP reply) or null;
   * {@code maxSize} the size limit as a person reads it.
   */
  public record ComposePage(Layout layout, List<FolderLink> folders, String heading, String from, String to, String cc, String bcc,
      String subject, String body, String mode, String folder, String uid, String inReplyTo, String references, String forwarded,
      String error, String maxSize) {}

  /** An error a person reads: 403, 404, 429 and the like. */
  public record ErrorPage(Layout layout, String title, String message) {}
}
