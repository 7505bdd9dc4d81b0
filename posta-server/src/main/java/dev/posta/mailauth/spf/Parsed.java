package dev.posta.mailauth.spf;

/** What a pure parser of this package gives: the value, or why the text is not one. No exceptions: bad input is an answer, not an accident. */
sealed interface Parsed<T> {
  record Valid<T>(T value) implements Parsed<T> {}

  /** {@code reason} is one line naming the offending text, for the check's reason. */
  record Invalid<T>(String reason) implements Parsed<T> {}
}
