package dev.posta.milter;

import java.io.IOException;

/** A milter broke the protocol: a malformed packet, a reply not allowed where it came, a timeout. */
public final class MilterException extends IOException {
  public MilterException(String message) {
    super(message);
  }
}
