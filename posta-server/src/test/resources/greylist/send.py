# Sends one message with smtplib as a mail server's queue would, recipient by recipient, and
# prints what the server said: RCPT <address> <code> <text> for each recipient, then DATA <code>
# <text> when one was accepted, and QUIT <code>.
# Usage: send.py HOST PORT FROM TO...
import smtplib
import sys

host, port, sender, recipients = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
message = ('From: %s\r\nTo: %s\r\nSubject: greylisting\r\n\r\nSent again after the delay.\r\n' % (sender, recipients[0])).encode()

server = smtplib.SMTP(host, port, local_hostname='mx.client.example')
server.ehlo()
server.mail(sender)
accepted = 0
for rcpt in recipients:
    code, text = server.rcpt(rcpt)
    print('RCPT', rcpt, code, text.decode())
    if code == 250:
        accepted += 1
if accepted:
    code, text = server.data(message)
    print('DATA', code, text.decode())
code, text = server.quit()
print('QUIT', code)
