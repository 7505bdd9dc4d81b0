# The example's failures as smtplib reports them:
#   failures.py SCENARIO PORT CAFILE
# Prints one line per outcome: the exception class, the SMTP code and the server's text.
#   wrong-password   STARTTLS, then login with a wrong password
#   no-starttls      login without STARTTLS, then a raw AUTH PLAIN
#   no-login         STARTTLS, then send_message without login
#   foreign-sender   STARTTLS, login, then send_message From: an address not the account's
import base64
import smtplib
import ssl
import sys
from email.message import EmailMessage

scenario, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)


def message(sender):
    msg = EmailMessage()
    msg.set_content('Hello, this is a test email sent using SMTP!')
    msg['Subject'] = 'Test Email'
    msg['From'] = sender
    msg['To'] = 'recipient@localhost'
    return msg


def text(b):
    return b.decode('utf-8') if isinstance(b, bytes) else str(b)


with smtplib.SMTP('localhost', port) as server:
    if scenario == 'wrong-password':
        server.starttls(context=ctx)
        try:
            server.login('sender@localhost', 'wrong password')
            print('LOGIN OK')
        except smtplib.SMTPAuthenticationError as e:
            print('SMTPAuthenticationError', e.smtp_code, text(e.smtp_error))
    elif scenario == 'no-starttls':
        server.ehlo()
        print('AUTH advertised', server.has_extn('auth'))
        print('STARTTLS advertised', server.has_extn('starttls'))
        try:
            server.login('sender@localhost', 'password')
            print('LOGIN OK')
        except smtplib.SMTPNotSupportedError as e:
            print('SMTPNotSupportedError', e)
        token = base64.b64encode(b'\0sender@localhost\0password').decode('ascii')
        code, reply = server.docmd('AUTH', 'PLAIN ' + token)
        print('AUTH PLAIN', code, text(reply))
    elif scenario == 'no-login':
        server.starttls(context=ctx)
        try:
            server.send_message(message('sender@localhost'))
            print('SENT')
        except smtplib.SMTPSenderRefused as e:
            print('SMTPSenderRefused', e.smtp_code, text(e.smtp_error), e.sender)
    elif scenario == 'foreign-sender':
        server.starttls(context=ctx)
        server.login('sender@localhost', 'password')
        try:
            server.send_message(message('someone@example.com'))
            print('SENT')
        except smtplib.SMTPSenderRefused as e:
            print('SMTPSenderRefused', e.smtp_code, text(e.smtp_error), e.sender)
    else:
        raise SystemExit('unknown scenario ' + scenario)
print('DONE')
