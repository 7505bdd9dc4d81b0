# Sends one message with smtplib, as an application does, and prints what the server said:
#   GREETING <code> <text>, then REFUSED <dict of refused recipients>, or DATA <code> <text>
#   when the server refused the message at the end of its data.
# Usage: send_one.py HOST PORT FROM TO
import smtplib
import sys
from email.message import EmailMessage

host, port, sender, recipient = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
msg = EmailMessage()
msg['From'] = sender
msg['To'] = recipient
msg['Subject'] = 'Through the launcher'
msg.set_content('Sent to the server that ./posta started from the built jar.')

server = smtplib.SMTP()
code, greeting = server.connect(host, port)
print('GREETING', code, greeting.decode())
try:
    print('REFUSED', server.send_message(msg))
except smtplib.SMTPDataError as e:
    print('DATA', e.smtp_code, e.smtp_error.decode())
server.quit()
