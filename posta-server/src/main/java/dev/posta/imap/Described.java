package dev.posta.imap;

import java.nio.ByteBuffer;

/**
 * What FETCH serves of a message's content without reading it again: its ENVELOPE, BODYSTRUCTURE
 * and BODY, as response octets, kept in the folder's cache for the message's life (content never
 * changes). Written for a client without UTF-8 (8-bit text in literals), which every client reads.
 */
record Described(byte[] envelope, byte[] bodyStructure, byte[] body) {
  static Described of(MessageStructure structure) {
    var envelope = new ResponseWriter(false);
    structure.writeEnvelope(envelope);
    var bodyStructure = new ResponseWriter(false);
    structure.writeStructure(bodyStructure, true);
    var body = new ResponseWriter(false);
    structure.writeStructure(body, false);
    return new Described(envelope.toByteArray(), bodyStructure.toByteArray(), body.toByteArray());
  }

  byte[] toBlob() {
    return ByteBuffer.allocate(12 + envelope.length + bodyStructure.length + body.length)
        .putInt(envelope.length).put(envelope).putInt(bodyStructure.length).put(bodyStructure).putInt(body.length).put(body)
        .array();
  }

  /** The parts of a blob {@link #toBlob} made; null when it is not one. */
  static Described fromBlob(byte[] blob) {
    try {
      ByteBuffer b = ByteBuffer.wrap(blob);
      byte[][] parts = new byte[3][];
      for (int i = 0; i < 3; i++) {
        parts[i] = new byte[b.getInt()];
        b.get(parts[i]);
      }
      return b.hasRemaining() ? null : new Described(parts[0], parts[1], parts[2]);
    } catch (RuntimeException e) { // a negative or overlong length: not ours
      return null;
    }
  }
}
