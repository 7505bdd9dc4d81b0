# The classic smtplib example ("send an email with STARTTLS and login"), as people paste it,
# with only the host, port, account and TLS trust changed:
#   send_email.py PORT CAFILE RECIPIENT
# Port 587 becomes the test server's submission port; the server's self-signed certificate
# (for host 'localhost') is trusted through the CA file; the From: header, which send_message
# uses as the envelope sender, is the account's own address.
import smtplib
import ssl
import sys
from email.message import EmailMessage

port, cafile, recipient = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)

msg = EmailMessage()
msg.set_content('Hello, this is a test email sent using SMTP!')
msg['Subject'] = 'Test Email'
msg['From'] = 'sender@localhost'
msg['To'] = recipient

with smtplib.SMTP('localhost', port) as server:
    server.starttls(context=ctx)
    server.login('sender@localhost', 'password')
    server.send_message(msg)
print('Email sent successfully!')
