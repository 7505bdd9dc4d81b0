package dev.posta.greylist;

import dev.posta.mail.MailAddress;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * What greylisting remembers an attempt by (RFC 6647 §2, Harris's "triplet"): the client's
 * network, the envelope sender and the recipient.
 *
 * <ul>
 *   <li>network: the client's /24 for IPv4 and /64 for IPv6 ({@code 192.0.2.0/24}, {@code
 *       2001:db8:1:2::/64}), because large senders retry from another address of the same
 *       pool (postgrey's and Stalwart's choice);
 *   <li>sender: the address in lower case, {@code <>} for the null reverse-path, with what
 *       changes from mail to mail for the same correspondent taken out, as postgrey 1.37's
 *       do_sender_substitutions does: a BATV tag ({@code prvs=TAG=user@example.org}, {@code
 *       btv1==TAG==user@...}); a {@code +extension} of the local part; and every number that
 *       stands as a word of its own in the local part (digits between non-word characters,
 *       Perl's {@code \b\d+\b}) becomes {@code #}, so the VERP and per-message bounce
 *       addresses of a mailing list ({@code bounces-12345@list.example}, {@code
 *       list-1234-5678@...}) are one sender ({@code bounces-#@list.example}), while {@code
 *       user123@...} stays as it is;
 *   <li>recipient: the address in lower case.
 * </ul>
 *
 * <p>Guarantee: the three strings hold no space or control character (those in a quoted
 * local part are written {@code %XX}), so a triplet is one line of the greylist's file.
 */
public record Triplet(String network, String sender, String recipient) {
  /** RFC 6647 §2 leaves the network size open; /24 and /64 are what postgrey and Stalwart use. */
  static final int IPV4_PREFIX = 24;
  static final int IPV6_PREFIX = 64;
  /** A number standing as a word of its own: postgrey's {@code \b\d+\b} (a word character is a letter, digit or underscore). */
  private static final Pattern NUMBER = Pattern.compile("\\b\\d+\\b");
  private static final Pattern BATV = Pattern.compile("(?:prvs=[^=@]+=|btv1==[^=@]+==)(.+)", Pattern.CASE_INSENSITIVE);

  public Triplet {
    for (String part : new String[] {network, sender, recipient}) {
      if (part.isEmpty() || part.chars().anyMatch(c -> c <= ' ' || c == 0x7f)) throw new IllegalArgumentException("not a triplet part: " + part);
    }
  }

  /** The triplet of an attempt from {@code client}, MAIL FROM {@code sender} (null for {@code <>}), RCPT TO {@code recipient}. */
  public static Triplet of(InetAddress client, MailAddress sender, MailAddress recipient) {
    return new Triplet(network(client), sender(sender), address(recipient));
  }

  /** The client's network as the triplet names it: {@code 192.0.2.0/24}, {@code 2001:db8:1:2::/64}. */
  public static String network(InetAddress client) {
    client = dev.posta.mail.IpAddresses.unmapped(client); // an IPv4 client on a dual-stack socket is in its /24, not a /64 of ::ffff:0:0/96
    byte[] a = client.getAddress();
    if (client instanceof Inet4Address) return (a[0] & 0xff) + "." + (a[1] & 0xff) + "." + (a[2] & 0xff) + ".0/" + IPV4_PREFIX;
    // The first four groups, the rest being zero: one name per /64, whatever the address's form.
    var s = new StringBuilder();
    for (int i = 0; i < 8; i += 2) s.append(Integer.toHexString((a[i] & 0xff) << 8 | a[i + 1] & 0xff)).append(':');
    return s.append(":/").append(IPV6_PREFIX).toString();
  }

  /** The sender as the triplet names it: {@code <>} for the null reverse-path, else lower case without a BATV tag. */
  public static String sender(MailAddress sender) {
    if (sender == null) return "<>";
    return escape(normalized(sender.toString().toLowerCase(Locale.ROOT)));
  }

  /** A lower-case sender address without its BATV tag, {@code +extension} and standalone numbers (see the class header). */
  static String normalized(String address) {
    var batv = BATV.matcher(address);
    if (batv.matches() && batv.group(1).contains("@")) address = batv.group(1);
    int at = address.lastIndexOf('@');
    if (at < 0) return address;
    String local = address.substring(0, at);
    int plus = local.indexOf('+');
    if (plus >= 0) local = local.substring(0, plus);
    local = NUMBER.matcher(local).replaceAll("#");
    if (local.isEmpty()) local = "#"; // "+tag@example.org": still a sender of its own, and a triplet part is never empty
    return local + address.substring(at);
  }

  private static String address(MailAddress a) {
    return escape(a.toString().toLowerCase(Locale.ROOT));
  }

  /** Spaces, controls and {@code %} written {@code %XX} (a quoted local part may hold them). */
  static String escape(String s) {
    var out = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c <= ' ' || c == '%' || c == 0x7f) out.append('%').append("%02X".formatted((int) c));
      else out.append(c);
    }
    return out.toString();
  }
}
