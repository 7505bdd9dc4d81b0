package dev.posta.web.page;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The pages' stylesheet and scripts, read once from the classpath ({@code
 * dev/posta/web/page/static/}) and served under {@code /static/NAME}. Each is linked with its
 * content's hash, {@code /static/posta.css?v=3f2a9c01b7de}: that URL changes whenever the file
 * does, so it is cached for a year as immutable (RFC 8246), while a request without the current
 * hash gets {@code no-cache} and revalidates by {@code ETag} (RFC 9110 §8.8.3), answered 304 when
 * unchanged. Only the files named in {@link #NAMES} are served; nothing is read from disk.
 */
final class StaticFiles {
  /** The files there are: the stylesheet, and the script of live updates. */
  static final List<String> NAMES = List.of("posta.css", "posta.js");

  /** One file: its content, MIME type, and content hash (the version in its URL and its ETag). */
  record File(String name, byte[] content, String type, String version) {
    String url() {
      return "/static/" + name + "?v=" + version;
    }

    String etag() {
      return "\"" + version + "\"";
    }
  }

  private final Map<String, File> files = new LinkedHashMap<>();

  StaticFiles() {
    for (String name : NAMES) {
      try (InputStream in = StaticFiles.class.getResourceAsStream("static/" + name)) {
        if (in == null) throw new IllegalStateException("the jar lacks dev/posta/web/page/static/" + name);
        byte[] content = in.readAllBytes();
        files.put(name, new File(name, content, type(name), version(content)));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /** A file by its name, or null. */
  File get(String name) {
    return files.get(name);
  }

  /** The versioned URL of a file that is there. */
  String url(String name) {
    return files.get(name).url();
  }

  private static String type(String name) {
    if (name.endsWith(".css")) return "text/css; charset=utf-8";
    if (name.endsWith(".js")) return "text/javascript; charset=utf-8";
    throw new IllegalArgumentException("no MIME type known for " + name);
  }

  private static String version(byte[] content) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content), 0, 6);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
