package dev.posta.milter;

/**
 * The numbers of the Sendmail milter protocol, version 6, as libmilter's {@code mfdef.h} names
 * them and Postfix's {@code milter8.c} speaks them: the commands the MTA sends (SMFIC_*), the
 * replies a milter answers (SMFIR_*), the modification actions it may ask for (SMFIF_*), the
 * protocol steps it may skip or not answer (SMFIP_*), and the stages its macro lists name
 * (SMFIM_*). No I/O here.
 */
public final class MilterProtocol {
  private MilterProtocol() {}

  /** The version this client offers; a milter answering an older one (2 or later) is spoken to as it asks. */
  public static final int VERSION = 6;

  // Commands, MTA to milter.
  public static final byte ABORT = 'A';
  public static final byte BODY = 'B';
  public static final byte CONNECT = 'C';
  public static final byte MACRO = 'D';
  public static final byte BODYEOB = 'E';
  public static final byte HELO = 'H';
  public static final byte QUIT_NC = 'K';
  public static final byte HEADER = 'L';
  public static final byte MAIL = 'M';
  public static final byte EOH = 'N';
  public static final byte OPTNEG = 'O';
  public static final byte QUIT = 'Q';
  public static final byte RCPT = 'R';
  public static final byte DATA = 'T';
  public static final byte UNKNOWN = 'U';

  // Replies, milter to MTA.
  public static final byte R_ADDRCPT = '+';
  public static final byte R_DELRCPT = '-';
  public static final byte R_ADDRCPT_PAR = '2';
  public static final byte R_SHUTDOWN = '4';
  public static final byte R_ACCEPT = 'a';
  public static final byte R_REPLBODY = 'b';
  public static final byte R_CONTINUE = 'c';
  public static final byte R_DISCARD = 'd';
  public static final byte R_CHGFROM = 'e';
  public static final byte R_CONNFAIL = 'f';
  public static final byte R_ADDHEADER = 'h';
  public static final byte R_INSHEADER = 'i';
  public static final byte R_SETSYMLIST = 'l';
  public static final byte R_CHGHEADER = 'm';
  public static final byte R_PROGRESS = 'p';
  public static final byte R_QUARANTINE = 'q';
  public static final byte R_REJECT = 'r';
  public static final byte R_SKIP = 's';
  public static final byte R_TEMPFAIL = 't';
  public static final byte R_REPLYCODE = 'y';

  // Actions a milter may take at the end of a message (SMFIF_*).
  public static final int F_ADDHDRS = 0x01;
  public static final int F_CHGBODY = 0x02;
  public static final int F_ADDRCPT = 0x04;
  public static final int F_DELRCPT = 0x08;
  public static final int F_CHGHDRS = 0x10;
  public static final int F_QUARANTINE = 0x20;
  public static final int F_CHGFROM = 0x40;
  public static final int F_ADDRCPT_PAR = 0x80;
  public static final int F_SETSYMLIST = 0x100;
  /** Every action this client carries out. */
  public static final int ALL_ACTIONS = 0x1FF;

  // Protocol steps (SMFIP_*): what the milter need not be sent, or need not answer.
  public static final int P_NOCONNECT = 0x1;
  public static final int P_NOHELO = 0x2;
  public static final int P_NOMAIL = 0x4;
  public static final int P_NORCPT = 0x8;
  public static final int P_NOBODY = 0x10;
  public static final int P_NOHDRS = 0x20;
  public static final int P_NOEOH = 0x40;
  public static final int P_NR_HDR = 0x80;
  public static final int P_NOUNKNOWN = 0x100;
  public static final int P_NODATA = 0x200;
  public static final int P_SKIP = 0x400;
  public static final int P_RCPT_REJ = 0x800;
  public static final int P_NR_CONN = 0x1000;
  public static final int P_NR_HELO = 0x2000;
  public static final int P_NR_MAIL = 0x4000;
  public static final int P_NR_RCPT = 0x8000;
  public static final int P_NR_DATA = 0x10000;
  public static final int P_NR_UNKN = 0x20000;
  public static final int P_NR_EOH = 0x40000;
  public static final int P_NR_BODY = 0x80000;
  public static final int P_HDR_LEADSPC = 0x100000;
  /** Every step this client offers to leave out or leave unanswered (as Postfix 2.6 and later). */
  public static final int ALL_STEPS = 0x1FFFFF;

  // Stages of a macro list (SMFIM_*), in a SETSYMLIST part of the negotiation reply.
  public static final int M_CONNECT = 0;
  public static final int M_HELO = 1;
  public static final int M_ENVFROM = 2;
  public static final int M_ENVRCPT = 3;
  public static final int M_DATA = 4;
  public static final int M_EOM = 5;
  public static final int M_EOH = 6;

  /** The largest body chunk sent in one BODY packet (libmilter's MILTER_CHUNK_SIZE). */
  public static final int BODY_CHUNK = 65535;

  /**
   * The largest packet read from a milter: a REPLBODY chunk may be up to 1 MiB when the milter
   * negotiated SMFIP_MDS_1M, plus the command byte and room for framing; anything longer is a
   * broken or hostile milter, refused before its octets are read.
   */
  public static final int MAX_PACKET = 1024 * 1024 + 1024;
}
