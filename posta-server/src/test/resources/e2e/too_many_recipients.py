"""Sends one message to five recipients and prints which were refused and how.

Usage: too_many_recipients.py HOST PORT
"""
import smtplib
import sys

host, port = sys.argv[1], int(sys.argv[2])
sender = 'sender@client.example'
rcpts = ['r%d@localhost' % i for i in range(1, 6)]
msg = ('From: %s\r\nTo: %s\r\nSubject: five\r\n\r\nHello five\r\n' % (sender, ', '.join(rcpts))).encode()

s = smtplib.SMTP(host, port, local_hostname='client.example', timeout=10)
try:
    s.ehlo()
    send_data = s.data

    def data(m):
        code, resp = send_data(m)
        print('DATA', code, resp.decode())
        return code, resp

    s.data = data
    try:
        refused = s.sendmail(sender, rcpts, msg)
        for addr in sorted(refused):
            code, resp = refused[addr]
            print('REFUSED', addr, code, resp.decode())
    except smtplib.SMTPRecipientsRefused as e:
        print('ALL_REFUSED', e.recipients)
    code, _ = s.quit()
    print('QUIT', code)
finally:
    s.close()
