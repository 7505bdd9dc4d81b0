package dev.posta.web.page;

import java.util.List;

/**
 * What the users pages' templates ({@code users.jte}, {@code user-remove.jte}) show, as plain
 * values escaped by the templates ({@link UserPages}). Kept beside {@link Views} so each
 * operators' section has its own models.
 */
public final class UserViews {
  private UserViews() {}

  /**
   * One account: its address, whether it is an administrator's, disabled, has a mailbox here (it
   * is in a local domain), how many API tokens it has; {@code self} when it is the signed-in
   * administrator's own (no disable, remove or revoke for it); {@code remove} the confirmation
   * page's link.
   */
  public record Row(String address, boolean admin, boolean disabled, boolean mailbox, int tokens, boolean self, String remove) {}

  /**
   * The accounts page: one page of rows (200 at most), the count, the pager; {@code notice}
   * (what was just done) and {@code error} (a refusal, in the API's and {@code posta user}'s
   * words) or null; the add form's fields as typed after a refusal; {@code page} the page number
   * the forms post back so their answer returns to it; {@code minPassword} the least length.
   */
  public record UsersPage(Views.Layout layout, List<Row> rows, String summary, Views.Pager pager, String notice, String error,
      String address, boolean admin, int page, int minPassword) {}

  /** The confirmation before an account is removed: pages work without script, so no confirm() dialog. */
  public record RemovePage(Views.Layout layout, String address, int page, String back) {}
}
