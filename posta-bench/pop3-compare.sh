#!/usr/bin/env bash
# Posta's POP3 side by side with a private Dovecot (Debian's dovecot-pop3d, installed if
# missing): builds Posta and the load generator, then runs pop3-compare.py (see there for what
# is measured and the settings), through imap-compare.sh, which does the same for IMAP. Run as
# root: Dovecot's master starts as root and runs mail as nobody. Takes about 7 minutes; prints
# one table with Posta / Dovecot for every figure.
set -euo pipefail
COMPARE=pop3-compare DOVECOT_PROTOCOL=pop3 exec "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/imap-compare.sh"
