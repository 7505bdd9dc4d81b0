"""Sends with Python's smtplib as an application would: argv = host port mode [cafile user password].

mode "plain": SMTP without TLS or AUTH. mode "submission": STARTTLS trusting only cafile, then
AUTH (smtplib picks PLAIN or LOGIN from what EHLO offers). Prints each reply it got, one a line.
"""
import smtplib
import ssl
import sys
from email.message import EmailMessage

host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
msg = EmailMessage()
msg["From"] = "Cron Daemon <cron@build.example>"
msg["To"] = "dev@team.example"
msg["Subject"] = "smtplib " + mode
msg.set_content("Sent by smtplib.\n")
msg.add_alternative("<p>Sent by <i>smtplib</i>.</p>", subtype="html")
msg.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="report.csv")

with smtplib.SMTP(host, port, timeout=10) as s:
    print(s.ehlo()[0])
    if mode == "submission":
        context = ssl.create_default_context(cafile=sys.argv[4])
        print(s.starttls(context=context)[0])
        print(s.ehlo()[0])
        print(s.login(sys.argv[5], sys.argv[6])[0])
    refused = s.send_message(msg, to_addrs=["dev@team.example", "hidden@elsewhere.example"])
    print("refused", refused)
