package dev.posta.auth;

import dev.posta.auth.UserStore.User;
import dev.posta.auth.UserStore.UserException;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * Where {@link UserStore} keeps its accounts: the users file ({@link FileAccounts}, a single
 * node's) or the cluster's database ({@link DatabaseAccounts}, shared by every node). UserStore
 * keeps what accounts mean (addresses, passwords, attributes, logins); a storage keeps them and
 * tells it of changes made elsewhere.
 *
 * <p>An edit works on the accounts as lines of the users file's format ({@code address TAB
 * argon2id TAB SCRAM [TAB attributes]}, see {@link UserStore}): the one form in which every
 * change UserStore makes is written once, whatever keeps it.
 */
interface AccountStorage extends AutoCloseable {
  /**
   * The accounts as stored, by canonical address: a snapshot, re-read when a change made elsewhere
   * (another process, another node) is noticed, within the storage's stated bound. Changes made
   * through this storage show at once.
   */
  Map<String, User> current() throws IOException;

  /**
   * Reads the accounts, applies {@code edit} and stores the result, atomically and serialized with
   * every other edit of the same accounts, in any process or node, so that none is lost.
   */
  void edit(Edit edit) throws IOException, UserException;

  /**
   * Revokes the API tokens of {@code address}, whose account was just removed, so that neither it
   * nor an account made again later under the same address keeps them: the file's ({@link
   * FileTokens}) after the users file's change; in the database they went with the account, in
   * its transaction, and nothing is left to do.
   *
   * @return how many were revoked here
   */
  int revokeTokens(String address) throws IOException;

  /** A change of the accounts' lines; throws to change nothing. */
  interface Edit {
    void apply(List<String> lines) throws UserException;
  }

  @Override
  void close();
}
