"""Sends a message over the server's SIZE limit twice (SIZE declared, then not), then a
small one in the same session, printing each outcome.

Usage: size_limit.py HOST PORT
"""
import smtplib
import sys

host, port = sys.argv[1], int(sys.argv[2])
sender, rcpt = 'sender@client.example', 'big@localhost'


def message(subject, lines):
    body = ''.join('line %05d %s\r\n' % (i, 'x' * 60) for i in range(lines))
    return ('From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n%s' % (sender, rcpt, subject, body)).encode()


big = message('too big', 1500)  # about 110 KB
small = message('small enough', 10)

s = smtplib.SMTP(host, port, local_hostname='client.example', timeout=10)
try:
    s.ehlo()
    print('SIZE', s.esmtp_features.get('size'))
    send_data = s.data

    def data(m):
        code, resp = send_data(m)
        print('DATA', code, resp.decode())
        return code, resp

    s.data = data
    # smtplib declares SIZE=<len> in MAIL because the server advertises SIZE.
    try:
        s.sendmail(sender, [rcpt], big)
        print('ACCEPTED big message with SIZE')
    except smtplib.SMTPSenderRefused as e:
        print('SENDER_REFUSED', e.smtp_code, e.smtp_error.decode())
    # Forget SIZE: MAIL without a size, the server finds out during DATA.
    del s.esmtp_features['size']
    try:
        s.sendmail(sender, [rcpt], big)
        print('ACCEPTED big message without SIZE')
    except smtplib.SMTPDataError as e:
        print('DATA_ERROR', e.smtp_code, e.smtp_error.decode())
    print('SMALL', s.sendmail(sender, [rcpt], small))
    code, _ = s.quit()
    print('QUIT', code)
finally:
    s.close()
