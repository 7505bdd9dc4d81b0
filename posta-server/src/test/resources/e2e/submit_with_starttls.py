# Submits one message as a mail program does: STARTTLS (the self-signed certificate taken on
# trust), AUTH, a message with its own Message-ID, QUIT.
# Usage: submit_with_starttls.py PORT USER PASSWORD FROM TO MESSAGE-ID
import smtplib
import ssl
import sys
from email.message import EmailMessage

port, user, password, sender, recipient, message_id = int(sys.argv[1]), *sys.argv[2:7]
msg = EmailMessage()
msg['From'] = sender
msg['To'] = recipient
msg['Subject'] = 'A story for the log'
msg['Message-ID'] = message_id
msg.set_content('Follow me in the log by one grep.')

with smtplib.SMTP('127.0.0.1', port, local_hostname='app.example') as server:
    server.starttls(context=ssl._create_unverified_context())
    server.login(user, password)
    print('REFUSED', server.send_message(msg))
