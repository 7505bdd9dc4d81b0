"""A scriptable receiving SMTP server for Posta's outbound-delivery tests (dev.posta.testing.SmtpPeer).

Run with Debian's python3 and its python3-aiosmtpd:  /usr/bin/python3 smtp_peer.py CONFIG.json

The configuration (written by SmtpPeer) says where to listen, what to offer (SMTPUTF8, DSN,
STARTTLS, AUTH) and which replies to give instead of the usual ones. Each accepted message is
saved in the configuration's folder as NNNN.eml (the content exactly as received, dot-stuffing
undone) and NNNN.json (the envelope); both are written to a temporary name and renamed, the
.json last, so a reader that sees NNNN.json sees a complete message.

Prints "READY <port>" on stdout once listening. Exits when stdin closes, so a peer cannot
outlive the test JVM that started it, or on SIGTERM. Logs every command to stderr.
"""

import asyncio
import json
import logging
import os
import ssl
import sys
import threading

from aiosmtpd.smtp import SMTP, AuthResult

# The DSN parameters (RFC 3461 §4) a DSN-offering peer accepts on MAIL and RCPT.
DSN_PARAMETERS = {"RET", "ENVID", "NOTIFY", "ORCPT"}


class Peer:
    """The handler: per-address RCPT replies, the DATA reply, and saving what was accepted."""

    def __init__(self, config):
        self.folder = config["folder"]
        # address (lower case) -> [reply, remaining times or None for always]
        self.rcpt_replies = {r["address"].lower(): [r["reply"], r.get("times")] for r in config["rcptReplies"]}
        data = config.get("dataReply")
        self.data_reply = [data["reply"], data.get("times")] if data else None
        self.dsn = config["dsn"]
        self.eight_bit = config.get("eightBitMime", True)
        self.count = 0

    @staticmethod
    def _take(rule):
        """The rule's reply if it still applies (and counts it), else None."""
        if rule is None or (rule[1] is not None and rule[1] <= 0):
            return None
        if rule[1] is not None:
            rule[1] -= 1
        return rule[0]

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname  # the new-style hook must do this itself
        if self.dsn:
            responses.insert(len(responses) - 1, "250-DSN")
        if not self.eight_bit:
            # aiosmtpd always offers 8BITMIME; a peer without it must not show it (RFC 6152).
            responses = [r for r in responses if r[4:] != "8BITMIME"]
            if responses and responses[-1].startswith("250-"):
                responses[-1] = "250 " + responses[-1][4:]
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        envelope.raw_mail_options = server.raw_options
        envelope.raw_rcpt_options = []
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self._take(self.rcpt_replies.get(address.lower()))
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        envelope.raw_rcpt_options.append(server.raw_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        reply = self._take(self.data_reply)
        if reply is not None:
            return reply
        self.count += 1
        name = "%04d" % self.count
        auth = session.auth_data
        meta = {
            "mailFrom": "" if envelope.mail_from == "<>" else envelope.mail_from,
            "mailOptions": envelope.raw_mail_options,
            "rcptTos": envelope.rcpt_tos,
            "rcptOptions": envelope.raw_rcpt_options,
            "tls": session.ssl is not None,
            "authUser": auth.login.decode("utf-8", "replace") if session.authenticated and auth is not None else None,
        }
        write_atomically(os.path.join(self.folder, name + ".eml"), envelope.original_content)
        write_atomically(os.path.join(self.folder, name + ".json"), json.dumps(meta).encode("ascii"))
        return "250 2.0.0 Ok: queued as " + name


def write_atomically(path, data):
    folder, base = os.path.split(path)
    tmp = os.path.join(folder, "." + base + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class PeerSMTP(SMTP):
    """aiosmtpd's SMTP with a refusing greeting, DSN parameters and options kept as sent."""

    def __init__(self, handler, greeting, dsn, line_length_limit=None, **kwargs):
        if line_length_limit:
            self.line_length_limit = line_length_limit  # before __init__, which sizes its reader by it
        super().__init__(handler, **kwargs)
        self.greeting = greeting
        self.dsn = dsn
        self.raw_options = []

    async def _handle_client(self):
        if self.greeting is not None:
            await self.push(self.greeting)
            self.transport.close()
            return
        await super()._handle_client()

    def _remember_options(self, keyword, arg):
        # aiosmtpd upper-cases the options it hands to hooks; ENVID and ORCPT are case-sensitive.
        self.raw_options = []
        if arg is None:
            return
        rest = self._strip_command_keyword(keyword, arg)
        if rest is None:
            return
        address, params = self._getaddr(rest)
        if address is not None and params:
            self.raw_options = params.split()

    async def smtp_MAIL(self, arg):
        self._remember_options("FROM:", arg)
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg):
        self._remember_options("TO:", arg)
        await super().smtp_RCPT(arg)

    def _getparams(self, params):
        result = super()._getparams(params)
        if result is not None and self.dsn:
            for key in DSN_PARAMETERS:
                result.pop(key, None)  # accepted: recorded as sent by smtp_MAIL/smtp_RCPT
        return result


def authenticator_for(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == user.encode("utf-8") and auth_data.password == password.encode("utf-8")
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
    return authenticate


async def serve(config):
    handler = Peer(config)
    tls = None
    if config.get("tlsCertificate"):
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(config["tlsCertificate"], config["tlsKey"])
    kwargs = dict(
        hostname="peer.test",
        ident="smtp-peer",
        enable_SMTPUTF8=config["smtpUtf8"],
        decode_data=False,
        tls_context=tls,
        require_starttls=bool(config.get("requireStartTls")) and tls is not None,
    )
    if config.get("authUser") is not None:
        kwargs.update(
            authenticator=authenticator_for(config["authUser"], config["authPassword"]),
            auth_required=True,
            # AUTH only after STARTTLS when STARTTLS is offered; in the clear otherwise.
            auth_require_tls=tls is not None,
        )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: PeerSMTP(handler, config.get("greeting"), config["dsn"], config.get("lineLengthLimit"), **kwargs),
        host=config["host"], port=config["port"])
    port = server.sockets[0].getsockname()[1]
    print("READY %d" % port, flush=True)
    async with server:
        await server.serve_forever()


def exit_when_stdin_closes():
    sys.stdin.buffer.read()
    os._exit(0)


def main():
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    with open(sys.argv[1], encoding="utf-8") as f:
        config = json.load(f)
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    asyncio.run(serve(config))


if __name__ == "__main__":
    main()
