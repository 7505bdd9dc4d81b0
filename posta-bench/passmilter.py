#!/usr/bin/python3
"""A pass-through milter for posta-bench's defenses comparison: it asks for every stage (connect,
HELO, MAIL, RCPT, headers, body, end of message) and lets everything through unchanged, so what it
costs a server is the milter protocol's round trips and the copy of each message, not a filter's
work. Debian's python3-milter (pymilter). Usage: passmilter.py PORT (listens on 127.0.0.1:PORT).
"""

import sys

import Milter


class Pass(Milter.Base):
    def connect(self, hostname, family, hostaddr):
        return Milter.CONTINUE

    def hello(self, hostname):
        return Milter.CONTINUE

    def envfrom(self, sender, *params):
        return Milter.CONTINUE

    def envrcpt(self, recipient, *params):
        return Milter.CONTINUE

    def header(self, name, value):
        return Milter.CONTINUE

    def eoh(self):
        return Milter.CONTINUE

    def body(self, chunk):
        return Milter.CONTINUE

    def eom(self):
        return Milter.ACCEPT


if __name__ == "__main__":
    Milter.factory = Pass
    Milter.runmilter("passmilter", f"inet:{int(sys.argv[1])}@127.0.0.1", timeout=60)
