package dev.posta.smtp;

import java.io.OutputStream;
import java.util.Arrays;

/**
 * The growing content of one message while it is received: an unsynchronized byte buffer
 * whose array is handed to the spool without a copy.
 */
public final class MessageBuffer extends OutputStream {
  private byte[] bytes = new byte[8192];
  private int size;

  @Override
  public void write(int b) {
    ensure(1);
    bytes[size++] = (byte) b;
  }

  @Override
  public void write(byte[] b, int off, int len) {
    ensure(len);
    System.arraycopy(b, off, bytes, size, len);
    size += len;
  }

  private void ensure(int more) {
    if (size + more > bytes.length) {
      long wanted = Math.max((long) bytes.length * 2, (long) size + more);
      bytes = Arrays.copyOf(bytes, (int) Math.min(wanted, Integer.MAX_VALUE - 16));
    }
  }

  public byte[] array() {
    return bytes;
  }

  public int size() {
    return size;
  }
}
