package dev.posta.auth;

import dev.posta.auth.ApiTokens.Token;
import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * Where {@link ApiTokens} keeps the tokens' hashes: the {@code <data>/api-tokens} file ({@link
 * FileTokens}, a single node's) or the cluster's database ({@link DatabaseTokens}, shared by every
 * node), as {@link AccountStorage} keeps the accounts. ApiTokens makes tokens and says what they
 * are; a storage keeps what is kept of them (never a token itself, only its SHA-256).
 */
interface TokenStorage {
  /**
   * Keeps a token just made.
   *
   * @throws IOException also when its account no longer exists, where the storage can tell
   */
  void add(Token token) throws IOException;

  /** Every token, oldest first. */
  List<Token> list() throws IOException;

  /** Removes the token whose hash starts with {@code hashPrefix} (12 hex digits or more, lower case); empty when none. */
  Optional<Token> revoke(String hashPrefix) throws IOException;

  /** Removes every token of {@code user}; returns how many. */
  int revokeAll(String user) throws IOException;

  /** The token with this SHA-256 (lower-case hex), as it is kept now. */
  Optional<Token> find(String hash) throws IOException;
}
