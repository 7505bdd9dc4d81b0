# An application's HTML email with one long generated line (1,500 characters), sent as such
# applications send it: smtplib, STARTTLS on the submission port, login, send_message.
#   send_html_long_line.py PORT CAFILE SENDER PASSWORD RECIPIENT
# The body is written as 8bit, so the long line goes out as it is (Python's default would
# already encode it: many programs do not).
import smtplib
import ssl
import sys
from email.message import EmailMessage

port, cafile, sender, password, recipient = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=cafile)

row = '<td>Grüße from the newsletter</td>'
html = '<html><body>\n<table><tr>' + row * ((1500 - 21) // len(row)) + '</tr></table>\n</body></html>\n'
assert max(len(line) for line in html.split('\n')) >= 1480

msg = EmailMessage()
msg['Subject'] = 'Weekly news'
msg['From'] = sender
msg['To'] = recipient
msg.set_content(html, subtype='html', cte='8bit')

with smtplib.SMTP('localhost', port) as server:
    server.starttls(context=ctx)
    server.login(sender, password)
    server.send_message(msg)
print('Email sent successfully!')
