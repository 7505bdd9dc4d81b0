"""A test milter on Debian's python3-milter (libmilter underneath), for MilterTest.

Usage: test_milter.py SOCKET LOGFILE [NAME]   (SOCKET as libmilter names it: inet:PORT@127.0.0.1, unix:/path)

It does what the mail asks, so one running milter serves every scenario:
  NAME connectreject             -> REJECT every connection;  NAME connecttempfail -> TEMPFAIL every connection
  HELO reject.example            -> REJECT at HELO
  MAIL FROM:<mailreject@...>     -> REJECT at MAIL;  <mailtempfail@...> -> TEMPFAIL;  <maildiscard@...> -> DISCARD
  MAIL FROM:<mailaccept@...>     -> ACCEPT at MAIL: the message is taken as it is, no more callbacks for it
  MAIL FROM:<datareject@...>     -> REJECT at DATA;  <datatempfail@...> -> TEMPFAIL at DATA
  RCPT TO:<rcptdiscard@...>      -> DISCARD at RCPT
  RCPT TO:<rcptreject@...>       -> 550 5.7.1 from setreply;  <rcpttempfail@...> -> TEMPFAIL
  RCPT TO:<multiline@...>        -> a two-line 550 from setmlreply
  RCPT TO:<sleep@...>            -> sleeps 5 s (longer than the test's command timeout)
  Subject: ACTION [ARG]          -> at end of message: reject, tempfail, discard, replycode,
      quarantine, addheader, insheader, chgheader, delheader, replbody, chgfrom, addrcpt, delrcpt;
      partial ARG: delrcpt ARG, then replbody with a first chunk, then sleeps 5 s (fails a short content timeout)
  X-Action-NAME: ACTION [ARG]    -> for the milter started with NAME, in place of the Subject's action
                                    (two of these milters in a chain each do their own)
Each callback appends one JSON line to LOGFILE: the stage, its arguments and the macros it saw.
"""
import json
import sys
import time

import Milter

LOG = sys.argv[2]
NAME = sys.argv[3] if len(sys.argv) > 3 else None
MACROS = {
    "connect": ["j", "_", "{daemon_name}", "{daemon_addr}", "{client_addr}", "{client_port}", "{client_name}", "v"],
    "hello": ["{tls_version}", "{cipher}"],
    "envfrom": ["i", "{mail_addr}", "{auth_authen}", "{auth_type}", "{mail_mailer}"],
    "envrcpt": ["{rcpt_addr}", "{rcpt_mailer}", "{rcpt_host}"],
    "eom": ["i"],
}


class TestMilter(Milter.Base):
    def __init__(self):
        self.subject = ""
        self.action = False
        self.headers = []
        self.content = b""
        self.sender = ""

    def log(self, stage, **fields):
        macros = {}
        for name in MACROS.get(stage, []):
            value = self.getsymval(name)
            if value is not None:
                macros[name] = value
        fields["stage"] = stage
        fields["macros"] = macros
        with open(LOG, "a") as f:
            f.write(json.dumps(fields, default=repr) + "\n")

    def connect(self, hostname, family, hostaddr):
        self.log("connect", hostname=hostname, hostaddr=list(hostaddr) if isinstance(hostaddr, tuple) else hostaddr)
        if NAME == "connectreject":
            return Milter.REJECT
        if NAME == "connecttempfail":
            return Milter.TEMPFAIL
        return Milter.CONTINUE

    def hello(self, name):
        self.log("hello", name=name)
        return Milter.REJECT if name == "reject.example" else Milter.CONTINUE

    def envfrom(self, sender, *args):
        self.subject = ""
        self.action = False
        self.headers = []
        self.content = b""
        self.sender = sender
        self.log("envfrom", sender=sender, args=list(args))
        if sender.startswith("<mailreject@"):
            return Milter.REJECT
        if sender.startswith("<mailtempfail@"):
            return Milter.TEMPFAIL
        if sender.startswith("<maildiscard@"):
            return Milter.DISCARD
        if sender.startswith("<mailaccept@"):
            return Milter.ACCEPT
        return Milter.CONTINUE

    def envrcpt(self, rcpt, *args):
        self.log("envrcpt", rcpt=rcpt, args=list(args))
        if rcpt.startswith("<rcptreject@"):
            self.setreply("550", "5.7.1", "No such luck for this recipient")
            return Milter.REJECT
        if rcpt.startswith("<rcpttempfail@"):
            return Milter.TEMPFAIL
        if rcpt.startswith("<multiline@"):
            self.setreply("550", "5.7.1", "first line", "second line")
            return Milter.REJECT
        if rcpt.startswith("<rcptdiscard@"):
            return Milter.DISCARD
        if rcpt.startswith("<sleep@"):
            time.sleep(5)
        return Milter.CONTINUE

    # Defined (not Milter.Base's @nocallback one), so the negotiation asks the MTA for SMFIC_DATA.
    def data(self):
        self.log("data")
        if self.sender.startswith("<datareject@"):
            return Milter.REJECT
        if self.sender.startswith("<datatempfail@"):
            return Milter.TEMPFAIL
        return Milter.CONTINUE

    def header(self, name, value):
        self.headers.append([name, value])
        if name.lower() == "subject" and not self.action:
            self.subject = value
        if NAME and name.lower() == "x-action-" + NAME:
            self.subject = value
            self.action = True
        return Milter.CONTINUE

    def eoh(self):
        return Milter.CONTINUE

    def body(self, chunk):
        self.content += chunk
        return Milter.CONTINUE

    def eom(self):
        self.log("eom", headers=self.headers, body=self.content.decode("utf-8", "replace"))
        words = self.subject.split()
        action = words[0] if words else ""
        arg = words[1] if len(words) > 1 else ""
        if action == "reject":
            return Milter.REJECT
        if action == "tempfail":
            return Milter.TEMPFAIL
        if action == "discard":
            return Milter.DISCARD
        if action == "replycode":
            self.setreply("554", "5.7.0", "Spam detected by the test milter")
            return Milter.REJECT
        if action == "quarantine":
            self.quarantine("test quarantine")
        elif action == "addheader":
            self.addheader("X-Milter", "added by the test")
        elif action == "insheader":
            self.addheader("X-Milter-First", "inserted at the top", 0)
        elif action == "chgheader":
            self.chgheader("Subject", 1, "changed by the test milter")
        elif action == "delheader":
            self.chgheader("X-Remove-Me", 1, "")
        elif action == "replbody":
            self.replacebody(b"A body the milter wrote.\r\n")
        elif action == "chgfrom":
            self.chgfrom("<changed@client.example>")
        elif action == "addrcpt":
            self.addrcpt("<" + arg + ">")
        elif action == "delrcpt":
            self.delrcpt("<" + arg + ">")
        elif action == "partial":
            self.delrcpt("<" + arg + ">")
            self.replacebody(b"The first chunk of a body never finished.\r\n")
            time.sleep(5)
        return Milter.CONTINUE

    def abort(self):
        self.log("abort")
        return Milter.CONTINUE

    def close(self):
        return Milter.CONTINUE


def main():
    Milter.factory = TestMilter
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.CHGBODY | Milter.ADDRCPT | Milter.DELRCPT
                     | Milter.QUARANTINE | Milter.CHGFROM)
    sys.stdout.write("starting\n")
    sys.stdout.flush()
    Milter.runmilter("posta-test", sys.argv[1], 60)


if __name__ == "__main__":
    main()
