"""Sends over TLS with Python's smtplib, checking the server as ssl.create_default_context does.

argv = host port mode cafile [server_hostname [user password]]
mode "starttls": SMTP, then STARTTLS; mode "ssl": SMTP_SSL (implicit TLS, RFC 8314).
cafile "-": the system's CAs only (which do not include the test CA).
server_hostname: with mode "ssl", the name checked against the certificate instead of host
(the handshake and the greeting only); "-" for host. user, password: AUTH after TLS.
Prints each reply it got, one a line; on a TLS failure prints "tls-failed", the exception's
class and its verify message, and exits 3.
"""
import smtplib
import socket
import ssl
import sys
from email.message import EmailMessage

host, port, mode, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
server_hostname = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != "-" else host
login = sys.argv[6:8]
context = ssl.create_default_context() if cafile == "-" else ssl.create_default_context(cafile=cafile)
# ssl.create_default_context: CERT_REQUIRED and check_hostname=True; nothing is relaxed here.
assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname

msg = EmailMessage()
msg["From"] = "cron@build.example"
msg["To"] = "dev@team.example"
msg["Subject"] = "smtplib over " + mode
msg.set_content("Sent by smtplib over TLS.\n")


try:
    if mode == "ssl" and server_hostname != host:
        # the TLS handshake alone, checking another name than the one connected to
        with socket.create_connection((host, port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
                print(tls.recv(512).decode("ascii").split(" ")[0])
        sys.exit(0)
    if mode == "ssl":
        s = smtplib.SMTP_SSL(host, port, timeout=10, context=context)
        print(s.ehlo()[0])
    else:
        s = smtplib.SMTP(host, port, timeout=10)
        print(s.ehlo()[0])
        print(s.starttls(context=context)[0])
        print(s.ehlo()[0])
    with s:
        print("tls", s.sock.version())
        if login:
            print(s.login(*login)[0])
        print("refused", s.send_message(msg))
except ssl.SSLCertVerificationError as e:
    print("tls-failed", type(e).__name__, e.verify_message)
    sys.exit(3)
