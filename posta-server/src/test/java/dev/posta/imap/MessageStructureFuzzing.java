package dev.posta.imap;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

/** The door the fuzz tests (package dev.posta.fuzz) use to reach the package-private {@link MessageStructure}. */
public final class MessageStructureFuzzing {
  private MessageStructureFuzzing() {}

  /** Parses the message and calls every method on it; BODY[] must give back the message itself. */
  public static void exercise(byte[] message) {
    MessageStructure m = MessageStructure.parse(message);
    MessageStructureTest.exerciseEverything(m);
    assertThat(m.section(new FetchItem.Section(List.of(), FetchItem.Section.Text.ALL, List.of()))).isEqualTo(message);
  }
}
