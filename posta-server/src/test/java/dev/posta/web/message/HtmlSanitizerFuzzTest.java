package dev.posta.web.message;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;
import java.io.IOException;

/**
 * The message view's model over any input (see ParserFuzzTest for how these tests run): the
 * sanitizer's output, parsed again, never holds what {@link HtmlSanitizerTest#violations} looks
 * for (script, handlers, frames, forms, script URLs, remote fetches not asked for, dangerous
 * CSS); and any message reads without an exception, its HTML coming out as harmless. Seeds in
 * {@code HtmlSanitizerFuzzTestInputs/}: pieces of the hostile corpus, and a multipart message.
 */
class HtmlSanitizerFuzzTest {
  @FuzzTest(maxDuration = "30s")
  void sanitizedHtmlHasNothingThatRunsOrFetches(FuzzedDataProvider data) {
    boolean remote = data.consumeBoolean();
    String html = data.consumeRemainingAsString();
    HtmlSanitizer.SafeHtml safe = HtmlSanitizer.sanitize(html, remote, cid -> cid.length() < 5 ? "/part/" + cid.length() : null);
    assertThat(HtmlSanitizerTest.violations(safe.html(), remote)).as(safe.html()).isEmpty();
    assertThat(safe.blockedImages()).isNotNegative();
  }

  @FuzzTest(maxDuration = "30s")
  void anyMessageReadsAndItsHtmlComesOutHarmless(FuzzedDataProvider data) throws IOException {
    byte[] message = data.consumeRemainingAsBytes();
    MessageView view = MessageView.read(new ByteArrayInputStream(message), new MessageView.Limits(1 << 16, 20, 1 << 14));
    if (view.hasHtml()) {
      HtmlSanitizer.SafeHtml safe = view.safeHtml(false, n -> "/part/" + n);
      assertThat(HtmlSanitizerTest.violations(safe.html(), false)).as(safe.html()).isEmpty();
    }
    for (Attachment a : view.attachments()) {
      assertThat(a.downloadName()).isNotEmpty().doesNotContain("/", "\\", "\"", "\n", "\r");
      assertThat(a.contentDisposition()).startsWith("attachment; filename=\"").doesNotContain("\n", "\r");
    }
  }
}
