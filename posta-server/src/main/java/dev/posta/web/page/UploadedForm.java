package dev.posta.web.page;

import dev.posta.web.Exchange;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.MultiPart;
import org.eclipse.jetty.io.Content;

/**
 * A form sent as {@code multipart/form-data} (RFC 7578), read by Jetty's multipart parser as it
 * streams in: its text fields (UTF-8), and its files up to a budget, each with its name as the
 * browser gives it (without a folder; {@code %22} is a quote, as HTML's form encoding writes it).
 *
 * <p>Why not all or nothing: a form whose files are too large should come back with its text
 * kept (a half-written message is not lost to a 413 page). So files are kept while their octets
 * add up to at most {@code fileBudget}; past it their content is counted and dropped ({@link
 * #filesDropped}), while the text fields go on being read. Bounds on what is read at all: the
 * text fields together at most {@code fileBudget} octets too, at most {@value #MAX_PARTS} parts,
 * and a body of at most twice the budget and {@value #DRAINED} octets more; beyond any of these
 * the form is refused (413, or 400 when it is not multipart at all) and, past the last, not read
 * to its end.
 */
final class UploadedForm {
  static final int MAX_PARTS = 1_000;
  /** What a body may be beyond both budgets before reading stops: the client is then cut off, not answered in its own time. */
  static final long DRAINED = 64L * 1024 * 1024;

  /** A file of the form: its name (without any path the browser put before it), MIME type and content. */
  record File(String field, String filename, String contentType, byte[] content) {}

  /** The text fields: the first value of each name, in form order. */
  final Map<String, String> fields = new LinkedHashMap<>();
  final List<File> files = new ArrayList<>();
  /** Every file's octets, those dropped too. */
  long fileOctets;
  boolean filesDropped;

  private UploadedForm() {}

  /** Whether {@code contentType} says multipart/form-data. */
  static boolean isMultipart(String contentType) {
    return contentType != null && contentType.toLowerCase(Locale.ROOT).startsWith("multipart/form-data");
  }

  /** Reads the body of {@code x}, a multipart/form-data POST. */
  static UploadedForm read(Exchange x, long fileBudget) throws PageError, IOException {
    String boundary = MultiPart.extractBoundary(x.header("Content-Type"));
    if (boundary == null || boundary.isEmpty()) throw PageError.badRequest("The form could not be read: its Content-Type names no boundary.");
    UploadedForm form = new UploadedForm();
    Reading listener = form.new Reading(fileBudget);
    MultiPart.Parser parser = new MultiPart.Parser(boundary, listener);
    parser.setMaxParts(MAX_PARTS);
    long limit = 2 * fileBudget + DRAINED;
    long read = 0;
    try (InputStream in = x.bodyStream()) {
      while (!listener.complete && listener.failure == null) {
        byte[] buffer = new byte[64 * 1024]; // a fresh one each time: the parser may hold a slice while it matches a boundary
        int n = in.read(buffer);
        if (n < 0) {
          parser.parse(Content.Chunk.EOF);
          break;
        }
        read += n;
        if (read > limit) throw tooLarge(fileBudget);
        parser.parse(Content.Chunk.from(ByteBuffer.wrap(buffer, 0, n), false));
        if (listener.textOctets > fileBudget) throw tooLarge(fileBudget);
      }
    }
    if (listener.failure != null) throw PageError.badRequest("The form could not be read: " + listener.failure.getMessage());
    if (!listener.complete) throw PageError.badRequest("The form could not be read: it ended before its last part.");
    return form;
  }

  private static PageError tooLarge(long budget) {
    return new PageError(413, "Form too large", "This form is larger than the server takes (" + budget
        + " octets of files, [limits] max-message-size). Go back, and attach less.");
  }

  /** The parser's listener: gathers one part at a time. */
  private final class Reading implements MultiPart.Parser.Listener {
    private final long fileBudget;
    private final Map<String, String> headers = new HashMap<>();
    private ByteArrayOutputStream content;
    private final Map<String, String> disposition = new HashMap<>();
    /** Whether the part being read is a file: its Content-Disposition has a filename parameter. */
    private boolean file;
    private long partOctets;
    long textOctets;
    boolean complete;
    Throwable failure;

    Reading(long fileBudget) {
      this.fileBudget = fileBudget;
    }

    @Override
    public void onPartBegin() {
      headers.clear();
      disposition.clear();
      file = false;
      content = new ByteArrayOutputStream();
      partOctets = 0;
    }

    @Override
    public void onPartHeader(String name, String value) {
      headers.put(name.toLowerCase(Locale.ROOT), value);
    }

    @Override
    public void onPartHeaders() {
      String value = headers.get("content-disposition");
      if (value != null && "form-data".equalsIgnoreCase(HttpField.getValueParameters(value, disposition).strip())) {
        file = disposition.containsKey("filename");
      } else {
        disposition.clear(); // not a form field: read past, kept nowhere
      }
    }

    @Override
    public void onPartContent(Content.Chunk chunk) {
      ByteBuffer b = chunk.getByteBuffer();
      int n = b.remaining();
      partOctets += n;
      if (file) fileOctets += n;
      else textOctets += n;
      if (file && fileOctets > fileBudget) {
        filesDropped = true;
        content = null;
      }
      if (content != null) {
        byte[] copy = new byte[n];
        b.get(copy);
        content.writeBytes(copy);
      }
    }

    @Override
    public void onPartEnd() {
      String name = disposition.get("name");
      if (name == null) return;
      if (!file) {
        if (content != null) fields.putIfAbsent(name, content.toString(StandardCharsets.UTF_8));
        return;
      }
      // HTML's form encoding writes " CR LF in a file name as %22 %0D %0A (the rest as UTF-8).
      String filename = disposition.get("filename").replace("%22", "\"").replace("%0D", " ").replace("%0A", " ").replaceAll("\\p{Cntrl}", " ");
      int slash = Math.max(filename.lastIndexOf('/'), filename.lastIndexOf('\\'));
      filename = filename.substring(slash + 1);
      if (filename.isEmpty() && partOctets == 0) return; // a file input left empty
      if (content == null) return; // over the budget: counted, dropped
      String type = headers.get("content-type");
      files.add(new File(name, filename.isEmpty() ? "attachment" : filename,
          type == null ? "application/octet-stream" : HttpField.stripParameters(type).strip(), content.toByteArray()));
    }

    @Override
    public void onComplete() {
      complete = true;
    }

    @Override
    public void onFailure(Throwable cause) {
      failure = cause;
    }
  }
}
