"""Send events to a Faultline server with the official Python Sentry SDK.

The integration tests run this script with the ``sentry-sdk`` package
(pinned to 2.75.0, installed by ``cargo xtask test``) to check that a real
SDK's payloads are accepted, stored and grouped as Sentry would group them.

Usage::

    SENTRY_DSN=http://KEY@127.0.0.1:PORT/PROJECT python send.py SCENARIO [options]

Each captured event id (32 hex digits) is printed on its own line on stdout;
nothing else is written there.  SDK and log output goes to stderr.  The exit
status is non-zero if the server did not accept an event.

Every scenario raises or captures from one fixed code path, so running it
again produces events of the same group, and different scenarios produce
different groups (``fingerprint`` excepted: both its variants share a group).
"""

import argparse
import logging
import os
import sys

import sentry_sdk
from sentry_sdk.envelope import Envelope, Item, PayloadRef
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.transport import HttpTransport

SCENARIOS = (
    "exception",
    "exception-other-path",
    "key-error",
    "chained",
    "message",
    "log-template",
    "fingerprint",
    "user-report",
    "attachment",
)


class CheckedTransport(HttpTransport):
    """The SDK's own HTTP transport, noting what the server did not accept."""

    dropped = []

    def on_dropped_event(self, reason):
        CheckedTransport.dropped.append(reason)


class OrderError(Exception):
    pass


# --- exception: ZeroDivisionError via handle_order -> compute_ratio --------


def compute_ratio(quantity):
    return quantity / 0


def handle_order(quantity):
    return compute_ratio(quantity)


# --- exception-other-path: same type, different frames ---------------------


def lookup_refund(amount):
    return amount / 0


def refund_order(amount):
    return lookup_refund(amount)


# --- key-error --------------------------------------------------------------


def reserve_stock(sku):
    inventory = {"A-1": 3}
    return inventory[sku]


# --- chained ----------------------------------------------------------------


def process_order(order_id):
    try:
        compute_ratio(order_id)
    except ZeroDivisionError as e:
        raise OrderError("failed to process order %s" % order_id) from e


# --- fingerprint variants ---------------------------------------------------


def validate_coupon(code):
    raise ValueError("coupon code %r is malformed" % code)


def apply_discount(amount):
    raise TypeError("discount must be a number, got %r" % amount)


def capture(fn, *args):
    """Call fn, which must raise, and capture the exception."""
    try:
        fn(*args)
    except Exception as e:
        return sentry_sdk.capture_exception(e)
    raise AssertionError("%s did not raise" % fn.__name__)


def send_once(args):
    """Run the scenario once and return the captured event id."""
    sc = args.scenario
    if sc == "exception":
        return capture(handle_order, 3)
    if sc == "exception-other-path":
        return capture(refund_order, 10)
    if sc == "key-error":
        return capture(reserve_stock, "missing-sku")
    if sc == "chained":
        return capture(process_order, 1234)
    if sc == "message":
        return sentry_sdk.capture_message(args.text, level="warning")
    if sc == "log-template":
        before = sentry_sdk.last_event_id()
        logging.getLogger("orders").error(
            "order %s failed for %s", args.param, args.user or "anonymous"
        )
        event_id = sentry_sdk.last_event_id()
        return event_id if event_id != before else None
    if sc == "fingerprint":
        with sentry_sdk.new_scope() as scope:
            scope.fingerprint = ["custom-fingerprint-group"]
            if args.variant == "a":
                return capture(validate_coupon, "SPRING-??")
            return capture(apply_discount, "ten")
    if sc == "user-report":
        # An error, then a user report about it, as a `user_report` item
        # through the SDK's own transport (what crash-report dialogs and
        # older SDKs send).
        event_id = capture(handle_order, 3)
        envelope = Envelope(headers={"event_id": event_id})
        envelope.add_item(
            Item(
                payload=PayloadRef(
                    json={
                        "event_id": event_id,
                        "name": "John Smith",
                        "email": "john@example.com",
                        "comments": args.text,
                    }
                ),
                type="user_report",
            )
        )
        sentry_sdk.get_client().transport.capture_envelope(envelope)
        return event_id
    if sc == "attachment":
        # An error with files on its scope, as apps attach logs and
        # screenshots: they travel in the event's envelope.
        with sentry_sdk.new_scope() as scope:
            for path in args.attach:
                scope.add_attachment(path=path)
            scope.add_attachment(
                bytes=args.text.encode("utf-8"), filename="note.txt", content_type="text/plain"
            )
            return capture(lookup_refund, 3)
    raise AssertionError(sc)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("scenario", choices=SCENARIOS)
    p.add_argument("--release")
    p.add_argument("--environment")
    p.add_argument("--user", help="user id; email becomes ID@example.com")
    p.add_argument("--tag", action="append", default=[], metavar="K=V")
    p.add_argument("--count", type=int, default=1, help="send the scenario N times")
    p.add_argument("--text", default="Cart total exceeds soft limit", help="message text")
    p.add_argument("--param", default="1", help="order id for log-template")
    p.add_argument("--variant", choices=("a", "b"), default="a", help="fingerprint variant")
    p.add_argument(
        "--attach", action="append", default=[], metavar="PATH", help="file to attach (attachment)"
    )
    args = p.parse_args(argv)
    for tag in args.tag:
        if "=" not in tag:
            p.error("--tag expects K=V, got %r" % tag)
    if args.count < 1:
        p.error("--count must be at least 1")
    return args


def main(argv):
    args = parse_args(argv)
    dsn = os.environ.get("SENTRY_DSN")
    if not dsn:
        sys.exit("send.py: SENTRY_DSN is not set")
    sentry_sdk.init(
        dsn=dsn,
        release=args.release,
        environment=args.environment,
        server_name="example-host",
        # Frames of this script are in-app whatever the working directory.
        project_root=os.path.dirname(os.path.abspath(__file__)),
        integrations=[LoggingIntegration(level=logging.INFO, event_level=logging.ERROR)],
        transport=CheckedTransport,
    )
    if args.user:
        sentry_sdk.set_user({"id": args.user, "email": "%s@example.com" % args.user})
    for tag in args.tag:
        key, value = tag.split("=", 1)
        sentry_sdk.set_tag(key, value)

    ok = True
    for _ in range(args.count):
        event_id = send_once(args)
        if event_id is None:
            print("send.py: %s: the SDK captured no event" % args.scenario, file=sys.stderr)
            ok = False
            continue
        print(event_id, flush=True)
    sentry_sdk.flush(timeout=10)
    if CheckedTransport.dropped:
        print("send.py: not delivered: %s" % ", ".join(CheckedTransport.dropped), file=sys.stderr)
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
