package dev.posta.smtp;

/** Why a session ends early: its reason goes to the log line of the disconnect. */
final class Closing extends Exception {
  Closing(String reason) {
    super(reason, null, false, false);
  }
}
