#!/usr/bin/python3
"""A POP3 session with Python's poplib, as a mail program written in Python has it; prints each
answer as poplib returns it, for the test to compare. poplib has no AUTH command (RFC 5034): it
goes through poplib's own line functions, as a client adding it would.

usage: poplib_session.py stls|auth|pop3s PORT CAFILE USER PASSWORD
  stls   STLS, USER/PASS, STAT, LIST, UIDL, RETR 1, TOP 2 0, DELE 1, QUIT
  auth   STLS, AUTH PLAIN with a wrong password, AUTH PLAIN without an initial response (the
         "+ " continuation), STAT, QUIT
  pop3s  implicit TLS, USER/PASS, STAT, QUIT
"""
import base64
import poplib
import ssl
import sys

mode, port, cafile, user, password = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile)


def plain(password):
    return base64.b64encode(b'\0' + user.encode() + b'\0' + password.encode()).decode()


def auth(pop, initial=None):
    """AUTH PLAIN, with or without an initial response; returns the final answer or the error."""
    try:
        if initial is not None:
            return pop._shortcmd('AUTH PLAIN ' + initial)
        pop._putcmd('AUTH PLAIN')
        continuation, _ = pop._getline()
        print('continuation', continuation)
        pop._putcmd(plain(password))
        return pop._getresp()
    except poplib.error_proto as e:
        return e.args[0]


if mode == 'pop3s':
    pop = poplib.POP3_SSL('localhost', int(port), context=ctx, timeout=10)
else:
    pop = poplib.POP3('localhost', int(port), timeout=10)
    print('welcome', pop.getwelcome())
    print('capa', sorted(pop.capa()))
    print('stls', pop.stls(context=ctx))
print('capa', sorted(pop.capa()))
if mode == 'auth':
    print('wrong', auth(pop, plain('wrong ' + password)))
    print('auth', auth(pop))
else:
    print('user', pop.user(user))
    print('pass', pop.pass_(password))
print('stat', pop.stat())
if mode == 'stls':
    response, listing, _ = pop.list()
    print('list', response, listing)
    response, uids, _ = pop.uidl()
    print('uidl', response, uids)
    response, lines, octets = pop.retr(1)
    print('retr', response, octets, [l for l in lines if l.startswith(b'Subject:')], lines[-2:])
    response, lines, _ = pop.top(2, 0)
    print('top', response, lines[-2:])
    print('dele', pop.dele(1))
print('quit', pop.quit())
