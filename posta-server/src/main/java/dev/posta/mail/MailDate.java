package dev.posta.mail;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * The RFC 5322 §3.3 date-time, as Date:, Received: and delivery reports write it: always in UTC
 * ({@code +0000}) and in English, whatever the machine's zone and locale.
 */
public final class MailDate {
  private MailDate() {}

  private static final DateTimeFormatter FORMAT =
      DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.ENGLISH).withZone(ZoneOffset.UTC);

  /** For example {@code Sun, 6 Dec 2026 06:04:03 +0000}. */
  public static String format(Instant instant) {
    return FORMAT.format(instant);
  }
}
