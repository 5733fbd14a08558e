#!/usr/bin/python3
"""oauth_imap.py - a tiny IMAP server over implicit TLS that checks the exact
bytes of XOAUTH2 and OAUTHBEARER (RFC 7628) logins, for mailprobe's
authentication tests (Dovecot's oauth2 passdb needs an outside token
service, so this stands in for it).

Usage:
    oauth_imap.py --cert CERT --key KEY --user USER --token-file FILE
                  --ready-file F [--host 127.0.0.1] [--log FILE]

Listens on an ephemeral port, the same one on 127.0.0.1 and ::1 (loopback.py;
HOST below is --host, the name the client uses, whichever address it reached);
when ready, writes {"port": N} to F (atomically). Advertises SASL-IR,
AUTH=XOAUTH2, AUTH=OAUTHBEARER and AUTH=PLAIN. A login succeeds only when the initial response is exactly

    XOAUTH2:     "user=" USER ^A "auth=Bearer " TOKEN ^A ^A
    OAUTHBEARER: "n,a=" USER ",", ^A "host=" HOST ^A "port=" PORT ^A
                 "auth=Bearer " TOKEN ^A ^A      (RFC 7628 section 3.1)

where HOST and PORT are this server's address and port; otherwise the server
sends the RFC 7628 section 3.2.2 error challenge, waits for the client's
answer (XOAUTH2: empty, OAUTHBEARER: %x01) and says NO. PLAIN and a second
command after a login are refused. With --log, one JSON line per AUTHENTICATE:
{"mechanism", "ok", "why"} (never the token).

Each connection lasts at most CONN_LIFETIME seconds and the process exits
by itself after PROCESS_LIFETIME seconds or on SIGTERM. Standard library only.
"""

import argparse
import base64
import json
import os
import selectors
import signal
import socket
import ssl
import sys
import threading
import time

import loopback

CONN_LIFETIME = 20.0
PROCESS_LIFETIME = 300.0
MAX_LINE = 16384
MAX_CONNECTIONS = 64
CAPS = "IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=OAUTHBEARER AUTH=PLAIN"
ERROR_JSON = b'{"status":"401","schemes":"bearer","scope":"https://mail.example/"}'


class Ended(Exception):
    pass


class Conn:
    """One TLS connection with a deadline on every read and write."""

    def __init__(self, sock):
        self.sock = sock
        self.deadline = time.monotonic() + CONN_LIFETIME
        self.buf = b""

    def left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Ended("deadline")
        return left

    def send(self, text):
        self.sock.settimeout(self.left())
        try:
            self.sock.sendall(text.encode() + b"\r\n")
        except (OSError, ssl.SSLError) as e:
            raise Ended("send: %s" % e)

    def line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE:
                raise Ended("line too long")
            self.sock.settimeout(self.left())
            try:
                data = self.sock.recv(4096)
            except (OSError, ssl.SSLError) as e:
                raise Ended("recv: %s" % e)
            if not data:
                raise Ended("client closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")


class Server:
    def __init__(self, args):
        self.args = args
        with open(args.token_file) as f:
            self.token = f.readline().rstrip("\r\n")
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(args.cert, args.key)
        self.listeners = loopback.listen_same_port(loopback.hosts(), 16)
        self.port = self.listeners[0].getsockname()[1]
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.log_lock = threading.Lock()

    def expected(self, mech):
        u, t = self.args.user, self.token
        if mech == "XOAUTH2":
            return ("user=%s\x01auth=Bearer %s\x01\x01" % (u, t)).encode()
        return ("n,a=%s,\x01host=%s\x01port=%d\x01auth=Bearer %s\x01\x01"
                % (u, self.args.host, self.port, t)).encode()

    def log(self, mech, ok, why):
        if not self.args.log:
            return
        with self.log_lock, open(self.args.log, "a") as f:
            f.write(json.dumps({"mechanism": mech, "ok": ok, "why": why}) + "\n")

    def authenticate(self, conn, tag, words):
        mech = words[0].upper() if words else ""
        if mech not in ("XOAUTH2", "OAUTHBEARER"):
            conn.send("%s NO [AUTHENTICATIONFAILED] mechanism not accepted here" % tag)
            self.log(mech, False, "mechanism")
            return False
        if len(words) > 1:
            ir = words[1]
        else:
            conn.send("+ ")
            ir = conn.line()
        try:
            got = base64.b64decode(ir, validate=True)
        except ValueError:
            got = None
        if got == self.expected(mech):
            conn.send("%s OK [CAPABILITY IMAP4rev1] Logged in" % tag)
            self.log(mech, True, "exact bytes")
            return True
        why = "not base64" if got is None else "bytes differ"
        # RFC 7628 3.2.2: error challenge, the client answers, then failure.
        conn.send("+ " + base64.b64encode(ERROR_JSON).decode())
        answer = conn.line()
        want = "AQ==" if mech == "OAUTHBEARER" else ""
        if answer != want:
            why += ", answer to the error challenge was %r" % answer
        conn.send("%s NO [AUTHENTICATIONFAILED] Invalid credentials" % tag)
        self.log(mech, False, why)
        return False

    def serve(self, raw):
        conn = None
        try:
            raw.settimeout(5)
            tls = self.ctx.wrap_socket(raw, server_side=True)
            conn = Conn(tls)
            conn.send("* OK [CAPABILITY %s] oauth fake ready" % CAPS)
            logged_in = False
            while True:
                parts = conn.line().split(" ")
                if len(parts) < 2:
                    conn.send("* BAD no tag")
                    continue
                tag, cmd, words = parts[0], parts[1].upper(), parts[2:]
                if cmd == "CAPABILITY":
                    conn.send("* CAPABILITY " + CAPS)
                    conn.send("%s OK done" % tag)
                elif cmd == "LOGOUT":
                    conn.send("* BYE bye")
                    conn.send("%s OK logged out" % tag)
                    break
                elif cmd == "AUTHENTICATE" and not logged_in:
                    logged_in = self.authenticate(conn, tag, words)
                elif cmd == "LOGIN":
                    conn.send("%s NO LOGIN is not accepted here" % tag)
                else:
                    conn.send("%s BAD unexpected command" % tag)
        except (Ended, OSError, ssl.SSLError):
            pass
        finally:
            try:
                (conn.sock if conn else raw).close()
            except OSError:
                pass
            self.slots.release()

    def run(self):
        ready = self.args.ready_file
        with open(ready + ".tmp", "w") as f:
            json.dump({"port": self.port}, f)
        os.rename(ready + ".tmp", ready)
        sel = selectors.DefaultSelector()
        for s in self.listeners:
            sel.register(s, selectors.EVENT_READ)
        end = time.monotonic() + PROCESS_LIFETIME
        while time.monotonic() < end:
            for key, _ in sel.select(timeout=max(0.1, min(1.0, end - time.monotonic()))):
                try:
                    raw, _ = key.fileobj.accept()
                except OSError:
                    continue
                if not self.slots.acquire(blocking=False):
                    raw.close()
                    continue
                threading.Thread(target=self.serve, args=(raw,), daemon=True).start()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--token-file", required=True)
    p.add_argument("--ready-file", required=True)
    p.add_argument("--host", default="127.0.0.1", help="the HOST expected in OAUTHBEARER")
    p.add_argument("--log")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(0))
    Server(args).run()


if __name__ == "__main__":
    main()
