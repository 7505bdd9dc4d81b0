package dev.posta.auth;

import dev.posta.auth.ApiTokens.Token;
import dev.posta.database.Database;
import java.io.IOException;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A cluster's API tokens, in its database's {@code api_tokens} table (schema part {@code
 * api_tokens.sql}), shared by every node: a token made by {@code posta token create} with any
 * node's configuration works on all of them, and one revoked stops working on all of them at its
 * next use.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>Only the token's SHA-256 is kept, as in the file ({@link ApiTokens}).
 *   <li>Each token is looked up in the database at each use, not cached: a revocation, or the
 *       removal of its account, holds on every node from its commit on. (One indexed read per API
 *       request: the request itself reads the database anyway.)
 *   <li>A token belongs to an existing account: the table's foreign key refuses a token for an
 *       account removed meanwhile, and removing an account removes its tokens in the same
 *       transaction ({@code on delete cascade}; {@link DatabaseAccounts} also removes them
 *       itself, to count them).
 *   <li>While the database cannot be reached, a token cannot be checked: the error is thrown
 *       (the API answers it as a server error), never taken for "no such token".
 * </ul>
 */
final class DatabaseTokens implements TokenStorage {
  private static final String COLUMNS = "hash, account, created, name";
  private final Database database;

  DatabaseTokens(Database database) {
    this.database = database;
  }

  @Override
  public void add(Token token) throws IOException {
    try {
      database.transaction(c -> {
        try (PreparedStatement s = c.prepareStatement("insert into api_tokens (" + COLUMNS + ") values (?, ?, ?, ?)")) {
          s.setString(1, token.hash());
          s.setString(2, token.user());
          s.setTimestamp(3, Timestamp.from(token.created()));
          s.setString(4, token.name());
          s.executeUpdate();
        }
        return null;
      });
    } catch (SQLException e) {
      if ("23503".equals(e.getSQLState())) throw new IOException("no such user: " + token.user() + " (removed meanwhile)", e);
      throw failed("kept", e);
    }
  }

  @Override
  public List<Token> list() throws IOException {
    try {
      return database.transaction(c -> {
        List<Token> tokens = new ArrayList<>();
        try (PreparedStatement s = c.prepareStatement("select " + COLUMNS + " from api_tokens order by created, hash");
            ResultSet r = s.executeQuery()) {
          while (r.next()) tokens.add(token(r));
        }
        return tokens;
      });
    } catch (SQLException e) {
      throw failed("read", e);
    }
  }

  @Override
  public Optional<Token> revoke(String hashPrefix) throws IOException {
    try {
      return database.transaction(c -> {
        try (PreparedStatement s = c.prepareStatement("delete from api_tokens where left(hash, ?) = ? returning " + COLUMNS)) {
          s.setInt(1, hashPrefix.length());
          s.setString(2, hashPrefix);
          try (ResultSet r = s.executeQuery()) {
            return r.next() ? Optional.of(token(r)) : Optional.<Token>empty();
          }
        }
      });
    } catch (SQLException e) {
      throw failed("revoked", e);
    }
  }

  @Override
  public int revokeAll(String user) throws IOException {
    try {
      return database.transaction(c -> revokeAll(c, user));
    } catch (SQLException e) {
      throw failed("revoked", e);
    }
  }

  /** Removes {@code user}'s tokens in the caller's transaction (the account's removal); returns how many. */
  static int revokeAll(java.sql.Connection c, String user) throws SQLException {
    try (PreparedStatement s = c.prepareStatement("delete from api_tokens where account = ?")) {
      s.setString(1, user);
      return s.executeUpdate();
    }
  }

  @Override
  public Optional<Token> find(String hash) throws IOException {
    try {
      return database.transaction(c -> {
        try (PreparedStatement s = c.prepareStatement("select " + COLUMNS + " from api_tokens where hash = ?")) {
          s.setString(1, hash);
          try (ResultSet r = s.executeQuery()) {
            return r.next() ? Optional.of(token(r)) : Optional.<Token>empty();
          }
        }
      });
    } catch (SQLException e) {
      throw failed("read", e);
    }
  }

  private static Token token(ResultSet r) throws SQLException {
    String hash = r.getString(1);
    return new Token(hash.substring(0, 12), hash, r.getString(2), r.getTimestamp(3).toInstant(), r.getString(4));
  }

  private static IOException failed(String what, SQLException e) {
    return new IOException("the API tokens cannot be " + what + " in the cluster's database: " + e.getMessage(), e);
  }
}
