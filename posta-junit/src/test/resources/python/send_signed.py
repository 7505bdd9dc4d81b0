# Sends one message to the extension's server as an application would: composed, optionally DKIM-signed by
# dkimpy (python3-dkim) with a key file, and handed over by smtplib.
# Usage: send_signed.py PORT MAIL-FROM FROM-DOMAIN KEY-FILE[,KEY-FILE...]|- SELECTOR[,SELECTOR...] ALGORITHM [submission]
import sys, smtplib, ssl, dkim

port, mail_from, from_domain, key, selector, algorithm = sys.argv[1:7]
message = ("From: Shop <shop@%s>\r\n"
           "To: ada@customer.example\r\n"
           "Subject: Order 42\r\n"
           "Date: Mon, 07 Dec 2026 03:00:00 +0000\r\n"
           "Message-ID: <order-42@%s>\r\n"
           "\r\n"
           "Thanks for your order.\r\n" % (from_domain, from_domain)).encode()
if key != "-":
    # KEY-FILE and SELECTOR may be comma-separated lists: one DKIM-Signature per pair, as a message
    # signed by both the sender and its mail provider carries.
    signatures = b""
    for one_key, one_selector in zip(key.split(","), selector.split(",")):
        with open(one_key, "rb") as f:
            private = f.read().strip()
        signatures += dkim.sign(message, one_selector.encode(), from_domain.encode(), private,
                                include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
                                signature_algorithm=algorithm.encode(), linesep=b"\r\n")
    message = signatures + message
with smtplib.SMTP("127.0.0.1", int(port)) as s:
    if sys.argv[7:] == ["submission"]:
        s.starttls(context=ssl._create_unverified_context())  # capture mode's self-signed certificate
    refused = s.sendmail(mail_from, ["ada@customer.example"], message)
print("sent", refused)
