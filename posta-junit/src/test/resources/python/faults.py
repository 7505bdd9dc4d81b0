# What Python's smtplib sees of Posta's scripted faults: one line per attempt, the exception's
# class with its smtp_code and smtp_error as smtplib parsed them, or "ok".
#   faults.py HOST PORT send COUNT FROM RCPT[,RCPT...]
#   faults.py HOST PORT starttls CAFILE
#   faults.py HOST PORT auth CAFILE USER PASSWORD
import smtplib
import ssl
import sys
from email.message import EmailMessage

host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def text(b):
    return b.decode() if isinstance(b, bytes) else str(b)


def outcome(action):
    try:
        result = action()
        print("ok" if not result else "ok refused " + " ".join(f"{r}={c} {text(m)}" for r, (c, m) in sorted(result.items())))
    except smtplib.SMTPRecipientsRefused as e:
        print("SMTPRecipientsRefused " + " ".join(f"{r}={c} {text(m)}" for r, (c, m) in sorted(e.recipients.items())))
    except smtplib.SMTPResponseException as e:  # SMTPSenderRefused, SMTPDataError, SMTPConnectError, SMTPAuthenticationError, SMTPHeloError
        print(f"{type(e).__name__} {e.smtp_code} {text(e.smtp_error)}")
    except smtplib.SMTPServerDisconnected as e:
        print("SMTPServerDisconnected")  # closed or reset: the message varies with the timing
    sys.stdout.flush()


if mode == "send":
    count, sender, rcpts = int(sys.argv[4]), sys.argv[5], sys.argv[6].split(",")

    def send():
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(rcpts), "smtplib fault"
        msg.set_content("line of text\n" * 50)
        with smtplib.SMTP(host, port, timeout=20) as s:
            return s.send_message(msg, sender, rcpts)

    for _ in range(count):
        outcome(send)
elif mode == "starttls":
    def starttls():
        with smtplib.SMTP(host, port, timeout=20) as s:
            s.ehlo()
            s.starttls(context=ssl.create_default_context(cafile=sys.argv[4]))
    outcome(starttls)
elif mode == "auth":
    def auth():
        with smtplib.SMTP(host, port, timeout=20) as s:
            s.starttls(context=ssl.create_default_context(cafile=sys.argv[4]))
            s.login(sys.argv[5], sys.argv[6])
    outcome(auth)
