#!/usr/bin/python3
"""Verifies every DKIM-Signature of a message with dkimpy (Debian's python3-dkim), the keys
fetched by dkimpy's own DNS code (dnspython) from a DNS server on loopback.

usage: dkimpy_verify.py PORT FILE

Prints one line per signature, top first: "<index> pass|fail d=<d> s=<s>", and any error
dkimpy raised on standard error. Exit status 0 when every signature passes, 1 when one does
not or there is none.
"""
import sys

import dkim
import dns.resolver


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    # dkimpy asks dnspython's default resolver: make it the loopback server, asked directly.
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    dns.resolver.default_resolver = resolver
    with open(path, "rb") as f:
        message = f.read()
    checker = dkim.DKIM(message)
    count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
    if count == 0:
        print("no signature")
        return 1
    all_pass = True
    for index in range(count):
        try:
            passed = checker.verify(idx=index)
        except dkim.DKIMException as e:
            print("%d error: %s" % (index, e), file=sys.stderr)
            passed = False
        domain = (checker.domain or b"").decode("ascii", "replace")
        selector = (checker.selector or b"").decode("ascii", "replace")
        print("%d %s d=%s s=%s" % (index, "pass" if passed else "fail", domain, selector))
        all_pass = all_pass and passed
    return 0 if all_pass else 1


if __name__ == "__main__":
    sys.exit(main())
