package dev.posta.milter;

import java.util.List;

/**
 * What the milters decided at one SMTP stage, for the session to answer: go on, refuse (for
 * good or for now, with the milter's own reply lines when it sent REPLYCODE), or take the
 * message and deliver it nowhere.
 */
public sealed interface Decision {
  Go GO = new Go();

  record Go() implements Decision {}

  /**
   * @param milter the milter's name, for the log line
   * @param temporary a 4xx (tempfail) rather than a 5xx (reject)
   * @param code the milter's REPLYCODE code, or 0 for the session's own reply
   * @param lines the REPLYCODE's lines (text after the code), empty without one
   * @param why for the log: "reject", "tempfail", "reply", or how the milter failed
   */
  record Refuse(String milter, boolean temporary, int code, List<String> lines, String why) implements Decision {
    public Refuse {
      lines = List.copyOf(lines);
    }
  }

  record Discard(String milter) implements Decision {}
}
