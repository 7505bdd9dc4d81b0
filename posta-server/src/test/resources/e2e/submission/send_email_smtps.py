# The same example over implicit TLS (RFC 8314, port 465), with smtplib.SMTP_SSL:
#   send_email_smtps.py PORT CAFILE RECIPIENT
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

with smtplib.SMTP_SSL('localhost', port, context=ctx) as server:
    server.login('sender@localhost', 'password')
    server.send_message(msg)
print('Email sent successfully!')
