"""An HTTP receiver for the notifier's chat and webhook channels, standing
in for each service on 127.0.0.1: it checks every request the way the
service does (the payload shape each documents, and DingTalk's and
Feishu's signatures, computed here from their documentation and not from
Faultline's code) and answers as the service answers.

Usage::

    python receiver.py --port PORT [--dingtalk-secret S] [--feishu-secret S]

The first path segment names the service: ``/webhooks/…``, ``/slack/…``,
``/discord/…``, ``/msteams/…``, ``/dingtalk/…`` (``?access_token=…``),
``/feishu/…``, ``/wecom/…`` (``?key=…``). Besides, ``/fail/…`` answers 500,
``/redirect/…`` answers 302 to ``/webhooks/redirected`` on ``localhost``
(another host than 127.0.0.1) and ``/slow/…`` waits 30 seconds.

``GET /_requests`` answers the list of requests received, each with
``service``, ``path``, ``query``, ``headers``, ``body`` (parsed JSON),
``ok`` (whether it passed the service's checks) and ``problem``. Prints
``ready`` on stdout once it listens, and runs until killed.
"""

import argparse
import base64
import hashlib
import hmac
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LEGACY_WEBHOOK_KEYS = {
    "id", "project", "project_name", "project_slug", "level", "culprit",
    "message", "url", "triggering_rules", "event",
}


def dingtalk_sign(secret, timestamp):
    # DingTalk's documented recipe: HMAC-SHA256 keyed by the secret over
    # "timestamp\nsecret", base64, then URL-encoded (parse_qs decodes it).
    string_to_sign = f"{timestamp}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret, timestamp):
    # Feishu's documented recipe: HMAC-SHA256 keyed by "timestamp\nsecret"
    # over no data, base64.
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def within_an_hour(seconds):
    return abs(time.time() - seconds) < 3600


class Checks:
    """Each service's check: returns (problem or None, status, answer)."""

    def __init__(self, dingtalk_secret, feishu_secret):
        self.dingtalk_secret = dingtalk_secret
        self.feishu_secret = feishu_secret

    def webhooks(self, query, body):
        missing = LEGACY_WEBHOOK_KEYS - set(body)
        if missing:
            return f"missing keys {sorted(missing)}", 400, "bad"
        return None, 200, "ok"

    def slack(self, query, body):
        attachments = body.get("attachments") or []
        if not body.get("text") and not attachments and not body.get("blocks"):
            return "no text, attachments or blocks", 400, "invalid_payload"
        if attachments and not attachments[0].get("title_link"):
            return "attachment without title_link", 400, "invalid_payload"
        return None, 200, "ok"

    def discord(self, query, body):
        embeds = body.get("embeds") or []
        if not body.get("content") and not embeds:
            return "no content or embeds", 400, {"message": "Cannot send an empty message", "code": 50006}
        if embeds and len(embeds[0].get("title", "")) > 256:
            return "embed title over 256", 400, {"message": "Invalid Form Body", "code": 50035}
        return None, 204, None

    def msteams(self, query, body):
        attachments = body.get("attachments") or []
        if body.get("type") != "message" or not attachments:
            return "not a message with attachments", 400, {"error": "bad"}
        card = attachments[0]
        if card.get("contentType") != "application/vnd.microsoft.card.adaptive":
            return "attachment is not an adaptive card", 400, {"error": "bad"}
        if card.get("content", {}).get("type") != "AdaptiveCard":
            return "content is not an AdaptiveCard", 400, {"error": "bad"}
        return None, 202, None

    def dingtalk(self, query, body):
        if not query.get("access_token"):
            return "no access_token", 200, {"errcode": 300001, "errmsg": "token is not exist"}
        if self.dingtalk_secret:
            timestamp = query.get("timestamp", "")
            sign = query.get("sign", "")
            if not timestamp.isdigit() or not within_an_hour(int(timestamp) / 1000):
                return "timestamp missing or stale", 200, {"errcode": 310000, "errmsg": "invalid timestamp"}
            if not hmac.compare_digest(sign, dingtalk_sign(self.dingtalk_secret, timestamp)):
                return "bad sign", 200, {"errcode": 310000, "errmsg": "sign not match"}
        markdown = body.get("markdown") or {}
        if body.get("msgtype") != "markdown" or not markdown.get("title") or not markdown.get("text"):
            return "not a markdown message", 200, {"errcode": 40035, "errmsg": "missing parameter"}
        return None, 200, {"errcode": 0, "errmsg": "ok"}

    def feishu(self, query, body):
        if self.feishu_secret:
            timestamp = body.get("timestamp", "")
            if not isinstance(timestamp, str) or not timestamp.isdigit() or not within_an_hour(int(timestamp)):
                return "timestamp missing or stale", 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
            if not hmac.compare_digest(body.get("sign", ""), feishu_sign(self.feishu_secret, timestamp)):
                return "bad sign", 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
        kind = body.get("msg_type")
        if kind not in ("text", "post", "interactive", "share_chat", "image"):
            return "unknown msg_type", 200, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
        if kind == "post" and not body.get("content", {}).get("post"):
            return "post without content.post", 200, {"code": 9499, "msg": "Bad Request"}
        return None, 200, {"code": 0, "msg": "success", "data": {}}

    def wecom(self, query, body):
        if not query.get("key"):
            return "no key", 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
        content = (body.get("markdown") or {}).get("content", "")
        if body.get("msgtype") != "markdown" or not content:
            return "not a markdown message", 200, {"errcode": 40008, "errmsg": "invalid message type"}
        if len(content.encode("utf-8")) > 4096:
            return "content over 4096 bytes", 200, {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}
        return None, 200, {"errcode": 0, "errmsg": "ok"}


def make_handler(checks, log, lock):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, body, headers=()):
            data = b"" if body is None else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/_requests":
                with lock:
                    self.answer(200, list(log))
            else:
                self.answer(404, {"error": "not found"})

        def do_POST(self):
            url = urllib.parse.urlsplit(self.path)
            query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
            service = url.path.strip("/").split("/")[0]
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            record = {
                "service": service,
                "path": url.path,
                "query": query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
                "host": self.headers.get("Host", ""),
            }
            if service == "slow":
                time.sleep(30)
            if service == "redirect":
                port = self.server.server_address[1]
                record.update(ok=True, problem=None)
                with lock:
                    log.append(record)
                return self.answer(302, None, [("Location", f"http://localhost:{port}/webhooks/redirected")])
            if service == "fail":
                record.update(ok=True, problem=None)
                with lock:
                    log.append(record)
                return self.answer(500, "the receiver fails on purpose")
            check = getattr(checks, service, None)
            if check is None or not isinstance(body, dict):
                problem, status, answer = "unknown service or body not a JSON object", 404, {"error": "not found"}
            elif self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                problem, status, answer = "Content-Type is not application/json", 415, {"error": "bad type"}
            else:
                problem, status, answer = check(query, body)
            record.update(ok=problem is None, problem=problem)
            with lock:
                log.append(record)
            self.answer(status, answer)

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dingtalk-secret", default="")
    parser.add_argument("--feishu-secret", default="")
    args = parser.parse_args()
    log, lock = [], threading.Lock()
    handler = make_handler(Checks(args.dingtalk_secret, args.feishu_secret), log, lock)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    print("ready", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
