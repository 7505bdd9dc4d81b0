"""Sends to a UTF-8 address with send_message and prints what the client saw.

Usage: smtputf8.py HOST PORT [explicit]
With "explicit", passes mail_options=['SMTPUTF8'] as well (smtplib adds SMTPUTF8 by itself
for non-ASCII addresses).
"""
import smtplib
import sys
from email.message import EmailMessage

host, port = sys.argv[1], int(sys.argv[2])
explicit = len(sys.argv) > 3 and sys.argv[3] == 'explicit'

msg = EmailMessage()
msg['From'] = 'sender@client.example'
msg['To'] = '用户@localhost'
msg['Subject'] = 'Grüße'
msg.set_content('Ünïcödé body\n')

s = smtplib.SMTP(host, port, local_hostname='client.example', timeout=10)
try:
    code, _ = s.ehlo()
    print('EHLO', code, 'SMTPUTF8' if s.has_extn('smtputf8') else 'no SMTPUTF8')
    send_mail = s.mail

    def mail(sender, options=()):
        code, resp = send_mail(sender, options)
        print('MAIL', ' '.join(options), '->', code, resp.decode())
        return code, resp

    s.mail = mail
    send_data = s.data

    def data(m):
        code, resp = send_data(m)
        print('DATA', code, resp.decode())
        return code, resp

    s.data = data
    try:
        refused = s.send_message(msg, mail_options=['SMTPUTF8'] if explicit else [])
        print('REFUSED', refused)
    except smtplib.SMTPSenderRefused as e:
        print('SENDER_REFUSED', e.smtp_code, e.smtp_error.decode())
    code, _ = s.quit()
    print('QUIT', code)
finally:
    s.close()
