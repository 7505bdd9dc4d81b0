package dev.posta.imap;

import java.nio.ByteBuffer;

/**
 * What FETCH serves of a message's content without reading it again: its ENVELOPE, and its
 * BODYSTRUCTURE and BODY once a client asked for them, as response octets, kept in the folder's
 * cache for the message's life (content never changes). An ENVELOPE needs the header alone, the
 * structures the whole message: a client listing a folder reads only headers. Written for a
 * client without UTF-8 (8-bit text in literals), which every client reads.
 *
 * @param bodyStructure null, with {@code body}, until the whole message was read
 */
record Described(byte[] envelope, byte[] bodyStructure, byte[] body) {
  /** Everything, from a whole message. */
  static Described of(MessageStructure structure) {
    var envelope = new ResponseWriter(false);
    structure.writeEnvelope(envelope);
    var bodyStructure = new ResponseWriter(false);
    structure.writeStructure(bodyStructure, true);
    var body = new ResponseWriter(false);
    structure.writeStructure(body, false);
    return new Described(envelope.toByteArray(), bodyStructure.toByteArray(), body.toByteArray());
  }

  /** The ENVELOPE alone, from a message's header. */
  static Described envelopeOf(MessageStructure header) {
    var envelope = new ResponseWriter(false);
    header.writeEnvelope(envelope);
    return new Described(envelope.toByteArray(), null, null);
  }

  boolean hasStructure() {
    return bodyStructure != null;
  }

  byte[] toBlob() {
    int structures = hasStructure() ? 8 + bodyStructure.length + body.length : 8;
    ByteBuffer b = ByteBuffer.allocate(4 + envelope.length + structures).putInt(envelope.length).put(envelope);
    if (hasStructure()) b.putInt(bodyStructure.length).put(bodyStructure).putInt(body.length).put(body);
    else b.putInt(-1).putInt(-1);
    return b.array();
  }

  /** The parts of a blob {@link #toBlob} made; null when it is not one. */
  static Described fromBlob(byte[] blob) {
    try {
      ByteBuffer b = ByteBuffer.wrap(blob);
      byte[][] parts = new byte[3][];
      for (int i = 0; i < 3; i++) {
        int length = b.getInt();
        if (length == -1 && i > 0) continue; // not read yet
        parts[i] = new byte[length];
        b.get(parts[i]);
      }
      if (b.hasRemaining() || parts[0] == null || (parts[1] == null) != (parts[2] == null)) return null;
      return new Described(parts[0], parts[1], parts[2]);
    } catch (RuntimeException e) { // a negative or overlong length: not ours
      return null;
    }
  }
}
