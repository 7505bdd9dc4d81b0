"""Sends one EmailMessage with smtplib.send_message and prints what the client saw.

Usage: send_message.py HOST PORT
Prints: EHLO <code>, DATA <final reply>, REFUSED <dict>, CONTENT <base64 of the bytes sent>, QUIT <code>.
"""
import base64
import email.generator
import io
import smtplib
import sys
from email.message import EmailMessage

host, port = sys.argv[1], int(sys.argv[2])

msg = EmailMessage()
msg['From'] = 'sender@client.example'
msg['To'] = 'py@localhost'
msg['Subject'] = 'Hello from smtplib'
msg['Message-ID'] = '<smtplib-1@client.example>'
msg.set_content('First line\n.leading dot\n..two dots\nLast line\n')

s = smtplib.SMTP(host, port, local_hostname='client.example', timeout=10)
try:
    code, _ = s.ehlo()
    print('EHLO', code)
    send_data = s.data

    def data(m):
        code, resp = send_data(m)
        print('DATA', code, resp.decode())
        return code, resp

    s.data = data
    refused = s.send_message(msg)
    print('REFUSED', refused)
    # The bytes send_message put on the wire, before dot-stuffing (as smtplib builds them).
    out = io.BytesIO()
    email.generator.BytesGenerator(out).flatten(msg, linesep='\r\n')
    print('CONTENT', base64.b64encode(out.getvalue()).decode())
    code, _ = s.quit()
    print('QUIT', code)
finally:
    s.close()
