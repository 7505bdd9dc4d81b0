# Submits one message with smtplib and AUTH (in plain text, as loopback allows when configured),
# as an application sending as its own account does. The message has no Date or Message-ID:
# the submission server adds them (RFC 6409 §8).
# Usage: submit_with_auth.py PORT USER PASSWORD FROM TO
import smtplib
import sys
from email.message import EmailMessage

port, user, password, sender, recipient = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
msg = EmailMessage()
msg['From'] = sender
msg['To'] = recipient
msg['Subject'] = 'Signed through the launcher'
msg.set_content('Signed by the server that ./posta started, with the key posta dkim keygen made.')

with smtplib.SMTP('127.0.0.1', port) as server:
    server.login(user, password)
    print('REFUSED', server.send_message(msg))
