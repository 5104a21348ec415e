"""A real SMTP server for the notifier tests: aiosmtpd on 127.0.0.1.

Usage::

    python server.py --port PORT --out DIR [--starttls CERT KEY | --tls CERT KEY] [--auth USER:PASSWORD]
                     [--reject CODE] [--delay-rcpt SECONDS]

Each message it accepts is written to DIR as NNNN.json: the envelope sender,
the recipients and the raw message (RFC 5322 text). ``--starttls`` offers
STARTTLS with the given certificate and requires it before MAIL; ``--tls``
speaks TLS from the first byte instead (SMTPS, implicit TLS);
``--auth`` requires AUTH (PLAIN or LOGIN) with that user and password, over
TLS when ``--starttls`` is given; ``--reject CODE`` answers every DATA with
that status (``550`` for a permanent refusal); ``--delay-rcpt`` waits that
long before accepting each recipient (a slow server, to kill a client in
the middle of a conversation). Prints ``ready`` on stdout
once it listens, and runs until killed.
"""

import argparse
import asyncio
import itertools
import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Recorder:
    def __init__(self, out, reject, delay_rcpt, implicit_tls=False):
        self.out = out
        # Over SMTPS every conversation is TLS from its first byte.
        self.implicit_tls = implicit_tls
        self.reject = reject
        self.delay_rcpt = delay_rcpt
        self.numbers = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.delay_rcpt:
            await asyncio.sleep(self.delay_rcpt)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.reject:
            return f"{self.reject} Mailbox unavailable (test server refuses)"
        number = next(self.numbers)
        record = {
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "tls": session.ssl is not None or self.implicit_tls,
            "authenticated": bool(session.authenticated),
            "message": envelope.content.decode("utf-8", "replace"),
        }
        path = os.path.join(self.out, f"{number:04}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.replace(path + ".tmp", path)
        return "250 Message accepted for delivery"


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok)

    return check


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth", metavar="USER:PASSWORD")
    p.add_argument("--reject", type=int)
    p.add_argument("--delay-rcpt", type=float, default=0)
    args = p.parse_args(argv)

    kwargs = {}
    if args.starttls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*args.starttls)
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = True
    if args.tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*args.tls)
        kwargs["ssl_context"] = context
    if args.auth:
        user, password = args.auth.split(":", 1)
        kwargs["authenticator"] = authenticator(user, password)
        kwargs["auth_required"] = True
        # Without TLS the test checks AUTH over a plain connection on
        # 127.0.0.1 only.
        # aiosmtpd counts only STARTTLS as TLS; over SMTPS (--tls) the whole
        # connection is TLS already, so AUTH is offered there too.
        kwargs["auth_require_tls"] = bool(args.starttls)

    controller = Controller(
        Recorder(args.out, args.reject, args.delay_rcpt, implicit_tls=bool(args.tls)),
        hostname="127.0.0.1",
        port=args.port,
        server_hostname="localhost",
        **kwargs,
    )
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
