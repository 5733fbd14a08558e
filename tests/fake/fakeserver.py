#!/usr/bin/python3
"""fakeserver.py - a small scriptable mail server that misbehaves on purpose.

It exists to reproduce behaviour no real server gives (silence, trickling,
endless replies, NUL bytes, injected plaintext after STARTTLS, TLS alerts,
resets...), so that mailprobe's handling of each can be tested.

Usage:
    fakeserver.py --cert CERT --key KEY --ready-file F [--host ADDR[,ADDR...]]
                  [--log FILE] [--only NAME[,NAME...]]
                  [--evil-cert CERT --evil-key KEY]   (for tls-evil-cert)
    fakeserver.py --list

The scenarios and what mailprobe must report for each are listed in
hostile_check.py (CASES); tests/fake/fakelib.sh starts this server for the
integration tests.

Every scenario listens on its own ephemeral port (bind port 0), the same port
on each --host address (default: 127.0.0.1 and ::1, see loopback.py). When all
are listening, F is written (atomically) as JSON {"scenario-name": port, ...}.
Each connection is served in its own thread and lasts at most
CONN_LIFETIME seconds; the whole process exits by itself after
PROCESS_LIFETIME seconds, or on SIGTERM / SIGINT.

With --log, one JSON line per finished connection is appended to FILE:
{"scenario", "peer", "duration_ms", "bytes_sent", "bytes_received",
 "commands": [first lines the client sent], "end": why it ended}.

Standard library only (Python 3.11).
"""

import argparse
import json
import os
import selectors
import signal
import socket
import ssl
import struct
import sys
import threading
import time

import loopback

CONN_LIFETIME = 30.0          # seconds one connection may last
PROCESS_LIFETIME = 600.0      # seconds the whole server may run
MAX_CONNECTIONS = 256         # concurrent connections served
MAX_CLIENT_LINE = 4096        # longest command line read from a client
MAX_LOGGED_COMMANDS = 32      # client lines kept per connection for --log
RECV_CHUNK = 16384


class ConnectionEnded(Exception):
    """The connection is over (client closed, deadline, or we are done)."""

    def __init__(self, why):
        super().__init__(why)
        self.why = why


class Conn:
    """One client connection with a hard deadline, byte counters and an
    optional TLS layer. Every wait is bounded by the deadline."""

    def __init__(self, sock, scenario, ctx, ctx12=None, ctx_evil=None):
        self.sock = sock
        self.scenario = scenario
        self.ctx = ctx
        self.ctx12 = ctx12      # a TLS 1.2-only context, for hand-made handshakes
        self.ctx_evil = ctx_evil or ctx   # the --evil-cert context, if any
        self.started = time.monotonic()
        self.deadline = self.started + CONN_LIFETIME
        self.buf = b""
        self.sent = 0
        self.received = 0
        self.commands = []
        self.end = "server_closed"
        self.tls = False

    def left(self):
        """Seconds left before the connection deadline (raises when none)."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ConnectionEnded("deadline")
        return left

    def send(self, data):
        """Sends all of data before the deadline."""
        view = memoryview(data)
        while view:
            self.sock.settimeout(min(self.left(), 5.0))
            try:
                n = self.sock.send(view)
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError) as e:
                raise ConnectionEnded("send failed: %s" % e)
            self.sent += n
            view = view[n:]

    def sleep(self, seconds):
        """Waits seconds (bounded by the deadline); a client hang-up ends it."""
        end = min(time.monotonic() + seconds, self.deadline)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            if self._peer_gone(left):
                raise ConnectionEnded("client_closed")
        self.left()

    def _peer_gone(self, timeout):
        """Waits up to timeout for input; buffers it. True when the peer
        closed or reset the connection."""
        if self.tls and self.sock.pending():
            timeout = 0
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(RECV_CHUNK)
        except socket.timeout:
            return False
        except ssl.SSLWantReadError:
            return False
        except (ConnectionResetError, ssl.SSLError, OSError):
            return True
        if not data:
            return True
        self.received += len(data)
        if len(self.buf) < 4 * MAX_CLIENT_LINE:
            self.buf += data
        return False

    def recv_some(self, timeout):
        """Returns bytes received within timeout (b"" when none arrived)."""
        if self.buf:
            data, self.buf = self.buf, b""
            return data
        if self._peer_gone(min(timeout, self.left())):
            raise ConnectionEnded("client_closed")
        data, self.buf = self.buf, b""
        return data

    def read_line(self):
        """Reads one client line (without CRLF), as text."""
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_CLIENT_LINE:
                raise ConnectionEnded("client line too long")
            if self._peer_gone(self.left()):
                raise ConnectionEnded("client_closed")
        line, self.buf = self.buf.split(b"\n", 1)
        text = line.rstrip(b"\r").decode("latin-1")
        if len(self.commands) < MAX_LOGGED_COMMANDS:
            self.commands.append(("tls: " if self.tls else "") + text)
        return text

    def drain(self):
        """Reads and ignores whatever comes until the client goes away."""
        while True:
            if self._peer_gone(min(self.left(), 1.0)):
                raise ConnectionEnded("client_closed")
            self.buf = b""

    def start_tls(self, ctx=None, keep_plaintext=False):
        """Runs the server side of a TLS handshake on the connection (with
        ctx, default the server's own certificate). keep_plaintext: the
        CVE-2011-0411 bug on purpose: bytes the client sent in plaintext
        before the handshake are kept and read as if they came inside TLS."""
        kept = b""
        if self.buf and keep_plaintext:
            kept, self.buf = self.buf, b""
        if self.buf:
            raise ConnectionEnded("client sent plaintext before the TLS handshake")
        self.sock.settimeout(min(self.left(), 10.0))
        try:
            self.sock = (ctx or self.ctx).wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError) as e:
            raise ConnectionEnded("tls handshake failed: %s" % e)
        self.tls = True
        self.buf = kept

    def close_gracefully(self):
        """Sends close_notify (TLS) and FIN, then waits (bounded) for the
        client to close."""
        if self.tls:
            self.sock.settimeout(min(self.left(), 1.0))
            try:
                self.sock = self.sock.unwrap()
            except (ssl.SSLError, OSError):
                pass
            self.tls = False
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        try:
            self.drain()
        except ConnectionEnded:
            pass

    def reset(self):
        """Closes with an RST (SO_LINGER on, timeout 0)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
        self.end = "reset"


# --- a minimal ESMTP server (RFC 5321), parameterised per scenario ---------

SMTP_GREETING = b"220 fake.test ESMTP fakeserver\r\n"


def smtp_ehlo_reply(conn, arg, starttls):
    """The multi-line 250 reply to EHLO (RFC 5321 4.1.1.1)."""
    lines = ["fake.test Hello %s" % (arg or "client"), "PIPELINING", "SIZE 10240000", "8BITMIME"]
    if starttls and not conn.tls:
        lines.append("STARTTLS")
    if conn.tls:
        lines.append("AUTH PLAIN LOGIN")
    lines.append("ENHANCEDSTATUSCODES")
    out = "".join("250-%s\r\n" % l for l in lines[:-1]) + "250 %s\r\n" % lines[-1]
    return out.encode()


def smtp_serve(conn, starttls=True, on_starttls=None, ehlo_refused=False, on_ehlo=None,
               on_auth=None):
    """Answers SMTP commands after the greeting until QUIT or hang-up.

    starttls: advertise STARTTLS in EHLO. on_starttls(conn): replaces the
    normal "220 + TLS handshake" answer to STARTTLS. ehlo_refused: answer EHLO
    with 502 (HELO still works). on_ehlo(conn): replaces the EHLO answer.
    on_auth(conn, arg): answers AUTH (default: 530 before TLS, 535 inside).
    """
    while True:
        line = conn.read_line()
        verb, _, arg = line.partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            if ehlo_refused:
                conn.send(b"502 5.5.1 EHLO not implemented\r\n")
            elif on_ehlo:
                on_ehlo(conn)
            else:
                conn.send(smtp_ehlo_reply(conn, arg, starttls))
        elif verb == "HELO":
            conn.send(b"250 fake.test\r\n")
        elif verb == "STARTTLS" and starttls and not conn.tls:
            if on_starttls:
                on_starttls(conn)
            else:
                conn.send(b"220 2.0.0 Ready to start TLS\r\n")
                conn.start_tls()
        elif verb == "QUIT":
            conn.send(b"221 2.0.0 Bye\r\n")
            conn.close_gracefully()
            return
        elif verb in ("NOOP", "RSET"):
            conn.send(b"250 2.0.0 OK\r\n")
        elif verb == "AUTH" and on_auth:
            on_auth(conn, arg)
        elif verb == "AUTH":
            conn.send(b"535 5.7.8 Authentication credentials invalid\r\n" if conn.tls
                      else b"530 5.7.0 Must issue a STARTTLS command first\r\n")
        else:
            conn.send(b"502 5.5.2 Command not recognized\r\n")


# --- scenarios ---------------------------------------------------------------
# Each takes a Conn and returns (or raises ConnectionEnded) when done.


def sc_smtp_silent(conn):
    """Accepts and says nothing, whatever the client sends."""
    conn.drain()


def sc_smtp_trickle_slow(conn):
    """Greeting one byte every 300 ms."""
    for b in SMTP_GREETING:
        conn.send(bytes([b]))
        conn.sleep(0.3)
    smtp_serve(conn)


def sc_smtp_trickle_fast(conn):
    """Greeting one byte every 5 ms, then a normal ESMTP server with STARTTLS."""
    for b in SMTP_GREETING:
        conn.send(bytes([b]))
        conn.sleep(0.005)
    smtp_serve(conn)


def sc_smtp_no_crlf(conn):
    """A greeting line that never ends: 'A' every 20 ms."""
    conn.send(b"220 ")
    while True:
        conn.send(b"A")
        conn.sleep(0.02)


def sc_smtp_long_line(conn):
    """A 1 MiB greeting line."""
    conn.send(b"220 " + b"x" * (1024 * 1024) + b"\r\n")
    smtp_serve(conn)


def ehlo_endless(conn):
    """'250-x' lines for ever (until the client gives up)."""
    chunk = b"250-x\r\n" * 1024
    while True:
        conn.send(chunk)


def sc_smtp_endless_multiline(conn):
    conn.send(SMTP_GREETING)
    smtp_serve(conn, on_ehlo=ehlo_endless)


def sc_smtp_nul(conn):
    """Greeting with NUL bytes, invalid UTF-8 and terminal escape sequences."""
    conn.send(b"220 fake\x00.test ESMTP \xff\xfe\xc3( \x1b[31mred\x1b[0m \x1b]0;title\x07 end\r\n")
    smtp_serve(conn)


def sc_smtp_bad_code(conn):
    conn.send(b"999 hello\r\n")
    smtp_serve(conn)


def sc_smtp_close_mid_reply(conn):
    conn.send(b"220-partial\r\n")
    conn.close_gracefully()


def starttls_inject(conn):
    """Go-ahead with plaintext appended in the same segment, then real TLS."""
    conn.send(b"220 go ahead\r\n250-INJECTED\r\n250 X\r\n")
    conn.start_tls()


def sc_smtp_starttls_inject(conn):
    conn.send(SMTP_GREETING)
    smtp_serve(conn, on_starttls=starttls_inject)


def starttls_no_handshake(conn):
    conn.send(b"220 2.0.0 Ready to start TLS\r\n")
    conn.drain()


def sc_smtp_starttls_no_handshake(conn):
    conn.send(SMTP_GREETING)
    smtp_serve(conn, on_starttls=starttls_no_handshake)


GARBAGE = b"garbage, not a ServerHello\r\n" + bytes(range(256))


def starttls_garbage(conn):
    """Go-ahead, wait for the ClientHello, answer it with garbage."""
    conn.send(b"220 2.0.0 Ready to start TLS\r\n")
    conn.recv_some(5.0)
    conn.send(GARBAGE)
    conn.drain()


def sc_smtp_starttls_garbage(conn):
    conn.send(SMTP_GREETING)
    smtp_serve(conn, on_starttls=starttls_garbage)


def starttls_refused(conn):
    conn.send(b"454 4.7.0 TLS not available due to local problem\r\n")


def sc_smtp_starttls_refused(conn):
    conn.send(SMTP_GREETING)
    smtp_serve(conn, on_starttls=starttls_refused)


def sc_smtp_no_starttls(conn):
    conn.send(SMTP_GREETING)
    smtp_serve(conn, starttls=False)


def sc_smtp_ehlo_refused(conn):
    conn.send(SMTP_GREETING)
    smtp_serve(conn, starttls=False, ehlo_refused=True)


def sc_smtp_greeting_554(conn):
    """554 greeting; then only QUIT is accepted (RFC 5321 3.1)."""
    conn.send(b"554 5.3.2 No SMTP service here\r\n")
    while True:
        line = conn.read_line()
        if line.upper().startswith("QUIT"):
            conn.send(b"221 2.0.0 Bye\r\n")
            conn.close_gracefully()
            return
        conn.send(b"503 5.5.1 No service\r\n")


def sc_imap_literal_huge(conn):
    """CAPABILITY answered with a 4 GiB literal that never comes."""
    conn.send(b"* OK hi\r\n")
    while True:
        line = conn.read_line()
        tag, _, rest = line.partition(" ")
        cmd = rest.split(" ", 1)[0].upper()
        if cmd == "CAPABILITY":
            conn.send(b"* CAPABILITY {4294967296}\r\n")
            conn.drain()
        elif cmd == "LOGOUT":
            conn.send(b"* BYE bye\r\n" + tag.encode("latin-1") + b" OK LOGOUT done\r\n")
            conn.close_gracefully()
            return
        else:
            conn.send(tag.encode("latin-1") + b" BAD unknown command\r\n")


def sc_imap_bye(conn):
    conn.send(b"* BYE go away\r\n")
    conn.close_gracefully()


def sc_pop3_capa_no_dot(conn):
    """CAPA list cut off before its terminating '.' (RFC 2449 5)."""
    conn.send(b"+OK POP3 fakeserver ready\r\n")
    while True:
        line = conn.read_line()
        if line.upper().startswith("CAPA"):
            conn.send(b"+OK Capability list follows\r\nTOP\r\nUIDL\r\nSTLS\r\n")
            conn.close_gracefully()
            return
        conn.send(b"-ERR unknown command\r\n")


def sc_pop3_plain_on_tls_port(conn):
    """A plaintext POP3 greeting on a port the client treats as pop3s."""
    conn.send(b"+OK POP3 fakeserver ready\r\n")
    conn.recv_some(5.0)
    conn.send(b"-ERR unknown command\r\n")
    conn.drain()


# TLS record: alert (21), TLS 1.2, length 2, fatal (2), handshake_failure (40).
TLS_ALERT = b"\x15\x03\x03\x00\x02\x02\x28"


def sc_tls_alert(conn):
    """Implicit TLS port that answers the ClientHello with a fatal alert."""
    conn.recv_some(5.0)
    conn.send(TLS_ALERT)
    conn.close_gracefully()


def sc_rst_mid_reply(conn):
    conn.send(b"220-a\r\n")
    conn.sleep(0.1)
    conn.reset()


# --- pipelining confusion (RFC 5321 4.1.1: a reply answers one command) --------


def sc_smtp_pipeline_unsolicited(conn):
    """Greeting followed at once (same segment) by a "250" nobody asked for,
    then a normal server: a client that reads the stray line as its EHLO
    reply shifts every later reply by one."""
    conn.send(SMTP_GREETING + b"250 unsolicited reply nobody asked for\r\n")
    smtp_serve(conn)


def sc_smtp_pipeline_early_ehlo(conn):
    """Answers EHLO before it was sent (another client's EHLO?): greeting and
    a complete 250 EHLO reply in one segment, then answers the real EHLO."""
    conn.send(SMTP_GREETING + b"250-other.test Hello someone-else\r\n250-AUTH PLAIN LOGIN\r\n"
              b"250 EARLY\r\n")
    smtp_serve(conn)


# --- oversized and malformed replies -------------------------------------------


def sc_smtp_100k_continuation(conn):
    """A greeting of 100 000 "220-" continuation lines, then the last line."""
    chunk = b"220-continuation line\r\n" * 1000
    for _ in range(100):
        conn.send(chunk)
    conn.send(b"220 finally\r\n")
    smtp_serve(conn)


def sc_smtp_code_600(conn):
    """A reply code outside 200-599 (RFC 5321 4.2)."""
    conn.send(b"600 x\r\n")
    smtp_serve(conn)


def sc_smtp_close_after_greeting(conn):
    """A normal greeting, then close before any command."""
    conn.send(SMTP_GREETING)
    conn.close_gracefully()


def sc_smtp_escape_greeting(conn):
    """A greeting with terminal escape sequences: OSC set-title (ESC ] 0;..BEL),
    clear screen (ESC [2J), a C1 CSI (0x9b) and a bidi override (U+202E)."""
    conn.send(b"220 mail.test \x1b]0;pwned-title\x07 \x1b[2J\x1b[H cleared \x9b31m c1 "
              b"\xe2\x80\xaeevil\xe2\x80\xac ESMTP\r\n")
    smtp_serve(conn)


# --- a minimal IMAP4rev1 server (RFC 3501 / RFC 9051) ---------------------------

IMAP_CAPS = b"IMAP4rev1 LITERAL+ ID"


def imap_serve(conn, starttls=True, on_capability=None, on_starttls=None, on_login=None):
    """Answers CAPABILITY, STARTTLS, NOOP, LOGIN and LOGOUT until LOGOUT or
    hang-up. on_login(conn, tag): answers LOGIN (default: NO [PRIVACYREQUIRED]
    before TLS, as LOGINDISABLED says; NO [AUTHENTICATIONFAILED] inside)."""
    while True:
        line = conn.read_line()
        tag, _, rest = line.partition(" ")
        cmd = rest.split(" ", 1)[0].upper()
        t = tag.encode("latin-1")
        if cmd == "CAPABILITY":
            if on_capability:
                on_capability(conn, t)
                continue
            caps = IMAP_CAPS
            if starttls and not conn.tls:
                caps += b" STARTTLS LOGINDISABLED"
            if conn.tls:
                caps += b" AUTH=PLAIN"
            conn.send(b"* CAPABILITY " + caps + b"\r\n" + t + b" OK CAPABILITY completed\r\n")
        elif cmd == "STARTTLS" and starttls and not conn.tls:
            if on_starttls:
                on_starttls(conn, t)
            else:
                conn.send(t + b" OK Begin TLS negotiation now\r\n")
                conn.start_tls()
        elif cmd == "LOGOUT":
            conn.send(b"* BYE logging out\r\n" + t + b" OK LOGOUT completed\r\n")
            conn.close_gracefully()
            return
        elif cmd == "NOOP":
            conn.send(t + b" OK NOOP completed\r\n")
        elif cmd == "LOGIN" and on_login:
            on_login(conn, t)
        elif cmd == "LOGIN":
            conn.send(t + (b" NO [AUTHENTICATIONFAILED] Authentication failed.\r\n" if conn.tls
                           else b" NO [PRIVACYREQUIRED] Not without TLS.\r\n"))
        else:
            conn.send(t + b" BAD unknown command\r\n")


def imap_flood(conn, tag):
    """Untagged "* OK" lines for ever, never the tagged completion."""
    chunk = b"* OK flood\r\n" * 1024
    while True:
        conn.send(chunk)


def sc_imap_untagged_flood(conn):
    conn.send(b"* OK IMAP4rev1 fakeserver ready\r\n")
    imap_serve(conn, on_capability=imap_flood)


def imap_starttls_inject(conn, tag):
    """Go-ahead with plaintext untagged and tagged lines in the same segment."""
    conn.send(tag + b" OK Begin TLS negotiation now\r\n* CAPABILITY IMAP4rev1 INJECTED\r\n"
              + tag + b" OK injected\r\n")
    conn.start_tls()


def sc_imap_starttls_inject(conn):
    conn.send(b"* OK IMAP4rev1 fakeserver ready\r\n")
    imap_serve(conn, on_starttls=imap_starttls_inject)


# --- a minimal POP3 server (RFC 1939, CAPA RFC 2449, STLS RFC 2595) -------------


def pop3_serve(conn, starttls=True, on_stls=None, user_before_tls=False):
    """Answers CAPA, STLS, NOOP, USER and QUIT until QUIT or hang-up.
    user_before_tls: accept USER before STLS although CAPA does not list it."""
    while True:
        line = conn.read_line()
        cmd = line.split(" ", 1)[0].upper()
        if cmd == "CAPA":
            caps = [b"TOP", b"UIDL", b"RESP-CODES"]
            if starttls and not conn.tls:
                caps.append(b"STLS")
            if conn.tls:
                caps += [b"USER", b"SASL PLAIN"]
            conn.send(b"+OK Capability list follows\r\n" + b"".join(c + b"\r\n" for c in caps)
                      + b".\r\n")
        elif cmd == "STLS" and starttls and not conn.tls:
            if on_stls:
                on_stls(conn)
            else:
                conn.send(b"+OK Begin TLS negotiation\r\n")
                conn.start_tls()
        elif cmd == "QUIT":
            conn.send(b"+OK bye\r\n")
            conn.close_gracefully()
            return
        elif cmd == "NOOP":
            conn.send(b"+OK\r\n")
        elif cmd == "USER" and (conn.tls or user_before_tls):
            conn.send(b"+OK send PASS\r\n")
        elif cmd == "USER":
            conn.send(b"-ERR [AUTH] Plaintext authentication disallowed\r\n")
        else:
            conn.send(b"-ERR unknown command\r\n")


def sc_pop3_long_greeting(conn):
    """A +OK greeting of 3000 bytes (more than MP_MAX_GREETING, less than a line)."""
    conn.send(b"+OK " + b"g" * 2996 + b"\r\n")
    pop3_serve(conn, starttls=False)


def pop3_stls_inject(conn):
    """Go-ahead with a plaintext CAPA answer appended in the same segment."""
    conn.send(b"+OK Begin TLS negotiation\r\n+OK\r\nINJECTED\r\nUSER\r\n.\r\n")
    conn.start_tls()


def sc_pop3_stls_inject(conn):
    conn.send(b"+OK POP3 fakeserver ready\r\n")
    pop3_serve(conn, on_stls=pop3_stls_inject)


# --- active checks: what no current real server does (issue 14) ----------------
# A server that keeps the plaintext a client sent right after STARTTLS and
# reads it as the first commands inside TLS (CVE-2011-0411), per protocol;
# servers that let a login through before TLS although they do not offer it.


def starttls_buffered(conn):
    conn.send(b"220 2.0.0 Ready to start TLS\r\n")
    conn.start_tls(keep_plaintext=True)


def sc_smtp_starttls_buffered(conn):
    conn.send(SMTP_GREETING)
    smtp_serve(conn, on_starttls=starttls_buffered)


def imap_starttls_buffered(conn, tag):
    conn.send(tag + b" OK Begin TLS negotiation now\r\n")
    conn.start_tls(keep_plaintext=True)


def sc_imap_starttls_buffered(conn):
    conn.send(b"* OK IMAP4rev1 fakeserver ready\r\n")
    imap_serve(conn, on_starttls=imap_starttls_buffered)


def pop3_stls_buffered(conn):
    conn.send(b"+OK Begin TLS negotiation\r\n")
    conn.start_tls(keep_plaintext=True)


def sc_pop3_stls_buffered(conn):
    conn.send(b"+OK POP3 fakeserver ready\r\n")
    pop3_serve(conn, on_stls=pop3_stls_buffered)


def auth_checks_credential(conn, arg):
    """AUTH processed before TLS although EHLO did not offer it: the
    credential is checked (and never right)."""
    conn.send(b"535 5.7.8 Authentication credentials invalid\r\n")


def sc_smtp_auth_unadvertised(conn):
    conn.send(SMTP_GREETING)
    smtp_serve(conn, on_auth=auth_checks_credential)


def imap_login_checked(conn, tag):
    conn.send(tag + b" NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")


def sc_imap_login_despite_logindisabled(conn):
    conn.send(b"* OK IMAP4rev1 fakeserver ready\r\n")
    imap_serve(conn, on_login=imap_login_checked)


def sc_pop3_user_unadvertised(conn):
    conn.send(b"+OK POP3 fakeserver ready\r\n")
    pop3_serve(conn, user_before_tls=True)


# --- TLS handshake failures on implicit-TLS ports -------------------------------


def read_tls_record(conn):
    """Reads one TLS record (RFC 8446 5.1) from the client: (type, body)."""
    data = b""
    while len(data) < 5:
        got = conn.recv_some(5.0)
        if not got:
            raise ConnectionEnded("no TLS record from the client")
        data += got
    need = 5 + struct.unpack("!H", data[3:5])[0]
    while len(data) < need:
        got = conn.recv_some(5.0)
        if not got:
            raise ConnectionEnded("TLS record cut short")
        data += got
    return data[0], data[:need]


def server_hello_record(ctx12, client_hello):
    """A genuine TLS 1.2 ServerHello (from Python's ssl over memory BIOs)
    answering client_hello, alone in one handshake record."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx12.wrap_bio(incoming, outgoing, server_side=True)
    incoming.write(client_hello)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    except ssl.SSLError as e:
        raise ConnectionEnded("could not make a ServerHello: %s" % e)
    flight = outgoing.read()
    # Walk the handshake messages of the first flight; keep the ServerHello (type 2).
    msgs = b""
    off = 0
    while off + 5 <= len(flight):
        rlen = struct.unpack("!H", flight[off + 3:off + 5])[0]
        if flight[off] == 22:
            msgs += flight[off + 5:off + 5 + rlen]
        off += 5 + rlen
    if len(msgs) < 4 or msgs[0] != 2:
        raise ConnectionEnded("first server flight does not start with a ServerHello")
    hlen = 4 + int.from_bytes(msgs[1:4], "big")
    return b"\x16\x03\x03" + struct.pack("!H", hlen) + msgs[:hlen]


def sc_tls_alert_after_hello(conn):
    """Implicit TLS: a real ServerHello, then a fatal handshake_failure alert
    instead of the Certificate."""
    _, hello = read_tls_record(conn)
    conn.send(server_hello_record(conn.ctx12, hello))
    conn.sleep(0.05)
    conn.send(TLS_ALERT)
    conn.close_gracefully()


def sc_tls_garbage_hello(conn):
    """Implicit TLS: a handshake record whose body is garbage, where the
    ServerHello belongs; then garbage that is not even a record."""
    read_tls_record(conn)
    body = b"\x02\x00\x00\x26" + b"\xee" * 38          # ServerHello, bogus contents
    conn.send(b"\x16\x03\x03" + struct.pack("!H", len(body)) + body + GARBAGE)
    conn.drain()


# --- server text a terminal must never see raw ---------------------------------
# ESC sequences (CSI clear screen, OSC set-title ended by BEL), a lone C1 CSI
# byte (0x9b), C1 CSI as valid UTF-8 (U+009B), bidi override U+202E, invalid
# UTF-8, DEL and TAB.

HOSTILE_TEXT = (b"\x1b[2J\x1b[H \x1b]0;pwned-title\x07 \x9b31m \xc2\x9b32m "
                b"\xe2\x80\xaeevil\xe2\x80\xac \xff\xfe \x7f \t end")


def escape_ehlo(conn):
    """An EHLO reply whose greeting line, extension words and AUTH mechanisms
    carry terminal control sequences and invalid UTF-8."""
    lines = [b"fake.test \x1b[1mhello\x1b[0m " + HOSTILE_TEXT,
             b"X-CSI\x1b[2J", b"X-OSC\x1b]0;pwned\x07", b"X-C1\x9b2J", b"X-C1UTF8\xc2\x9b2J",
             b"X-BIDI\xe2\x80\xaeevil", b"X-BAD\xff\xfe", b"X-DEL\x7f", b"X-TAB\tx",
             b"AUTH PLAIN X\x1b[31mRED \xe2\x80\xaeLOGIN \x9bC1 \xff"]
    conn.send(b"".join(b"250-" + l + b"\r\n" for l in lines[:-1]) + b"250 " + lines[-1] + b"\r\n")


def sc_smtp_escape_caps(conn):
    conn.send(b"220 fake.test " + HOSTILE_TEXT + b"\r\n")
    smtp_serve(conn, on_ehlo=escape_ehlo)


def starttls_refused_hostile(conn):
    conn.send(b"454 4.7.0 " + HOSTILE_TEXT + b"\r\n")


def sc_smtp_escape_refused(conn):
    """STARTTLS refused with a message full of control sequences."""
    conn.send(SMTP_GREETING)
    smtp_serve(conn, on_starttls=starttls_refused_hostile)


def imap_escape_capability(conn, tag):
    conn.send(b"* CAPABILITY IMAP4rev1 X-\x1b[2J AUTH=\x1b]0;t\x07PLAIN AUTH=\x9bC1 "
              b"AUTH=\xe2\x80\xaeRLO X-\xff\r\n" + tag + b" OK \x1b[2J done\r\n")


def sc_imap_escape_greeting(conn):
    conn.send(b"* OK [CAPABILITY IMAP4rev1 X-\x1b[2J] " + HOSTILE_TEXT + b"\r\n")
    imap_serve(conn, on_capability=imap_escape_capability)


def sc_pop3_escape_capa(conn):
    """POP3 greeting and CAPA lines with control sequences."""
    conn.send(b"+OK " + HOSTILE_TEXT + b"\r\n")
    while True:
        line = conn.read_line()
        cmd = line.split(" ", 1)[0].upper()
        if cmd == "CAPA":
            conn.send(b"+OK \x1b]0;capa\x07\r\nTOP\r\nX-\x1b[2J\r\nSASL PLAIN \x9bC1 "
                      b"\xe2\x80\xaeRLO \xff\r\nIMPLEMENTATION " + HOSTILE_TEXT + b"\r\n.\r\n")
        elif cmd == "QUIT":
            conn.send(b"+OK \x1b[2J bye\r\n")
            conn.close_gracefully()
            return
        else:
            conn.send(b"-ERR \x1b[2J unknown\r\n")


def sc_tls_evil_cert(conn):
    """Implicit TLS with the --evil-cert certificate (control sequences in its
    subject, issuer and SAN; self-signed), then a normal SMTP server. Without
    --evil-cert, the normal certificate."""
    conn.start_tls(conn.ctx_evil)
    conn.send(SMTP_GREETING)
    smtp_serve(conn, starttls=False)


SCENARIOS = {
    "smtp-silent": sc_smtp_silent,
    "smtp-trickle-slow": sc_smtp_trickle_slow,
    "smtp-trickle-fast": sc_smtp_trickle_fast,
    "smtp-no-crlf": sc_smtp_no_crlf,
    "smtp-long-line": sc_smtp_long_line,
    "smtp-endless-multiline": sc_smtp_endless_multiline,
    "smtp-nul": sc_smtp_nul,
    "smtp-bad-code": sc_smtp_bad_code,
    "smtp-close-mid-reply": sc_smtp_close_mid_reply,
    "smtp-starttls-inject": sc_smtp_starttls_inject,
    "smtp-starttls-no-handshake": sc_smtp_starttls_no_handshake,
    "smtp-starttls-garbage": sc_smtp_starttls_garbage,
    "smtp-starttls-refused": sc_smtp_starttls_refused,
    "smtp-no-starttls": sc_smtp_no_starttls,
    "smtp-ehlo-refused": sc_smtp_ehlo_refused,
    "smtp-greeting-554": sc_smtp_greeting_554,
    "imap-literal-huge": sc_imap_literal_huge,
    "imap-bye": sc_imap_bye,
    "pop3-capa-no-dot": sc_pop3_capa_no_dot,
    "pop3-plain-on-tls-port": sc_pop3_plain_on_tls_port,
    "tls-alert": sc_tls_alert,
    "rst-mid-reply": sc_rst_mid_reply,
    "smtp-pipeline-unsolicited": sc_smtp_pipeline_unsolicited,
    "smtp-pipeline-early-ehlo": sc_smtp_pipeline_early_ehlo,
    "smtp-100k-continuation": sc_smtp_100k_continuation,
    "smtp-code-600": sc_smtp_code_600,
    "smtp-close-after-greeting": sc_smtp_close_after_greeting,
    "smtp-escape-greeting": sc_smtp_escape_greeting,
    "imap-untagged-flood": sc_imap_untagged_flood,
    "imap-starttls-inject": sc_imap_starttls_inject,
    "pop3-long-greeting": sc_pop3_long_greeting,
    "pop3-stls-inject": sc_pop3_stls_inject,
    "tls-alert-after-hello": sc_tls_alert_after_hello,
    "tls-garbage-hello": sc_tls_garbage_hello,
    "smtp-escape-caps": sc_smtp_escape_caps,
    "smtp-escape-refused": sc_smtp_escape_refused,
    "imap-escape-greeting": sc_imap_escape_greeting,
    "pop3-escape-capa": sc_pop3_escape_capa,
    "tls-evil-cert": sc_tls_evil_cert,
    "smtp-starttls-buffered": sc_smtp_starttls_buffered,
    "imap-starttls-buffered": sc_imap_starttls_buffered,
    "pop3-stls-buffered": sc_pop3_stls_buffered,
    "smtp-auth-unadvertised": sc_smtp_auth_unadvertised,
    "imap-login-despite-logindisabled": sc_imap_login_despite_logindisabled,
    "pop3-user-unadvertised": sc_pop3_user_unadvertised,
}


# --- the server ----------------------------------------------------------------


class Server:
    def __init__(self, args):
        self.args = args
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(args.cert, args.key)
        self.ctx12 = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx12.load_cert_chain(args.cert, args.key)
        self.ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
        self.ctx_evil = None
        if args.evil_cert:
            self.ctx_evil = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx_evil.load_cert_chain(args.evil_cert, args.evil_key or args.key)
        self.log_lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.listeners = {}

    def listen(self, names):
        """Opens one ephemeral port per scenario, listening on every --host address."""
        for name in names:
            socks = loopback.listen_same_port(self.args.host, 64)
            for s in socks:
                s.setblocking(False)
            self.listeners[name] = socks

    def write_ready(self):
        """Writes the ready file atomically: {"scenario": port, ...}."""
        ports = {name: socks[0].getsockname()[1] for name, socks in self.listeners.items()}
        tmp = self.args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(ports, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.args.ready_file)

    def log(self, conn, peer):
        if not self.args.log:
            return
        rec = {
            "scenario": conn.scenario,
            "peer": "%s:%s" % peer[:2],
            "duration_ms": int((time.monotonic() - conn.started) * 1000),
            "bytes_sent": conn.sent,
            "bytes_received": conn.received,
            "commands": conn.commands,
            "end": conn.end,
        }
        with self.log_lock:
            with open(self.args.log, "a") as f:
                f.write(json.dumps(rec) + "\n")

    def serve_one(self, name, sock, peer):
        """Thread body: runs one scenario on one connection."""
        conn = Conn(sock, name, self.ctx, self.ctx12, self.ctx_evil)
        try:
            SCENARIOS[name](conn)
        except ConnectionEnded as e:
            conn.end = e.why
        except Exception as e:  # a bug here must not kill the server
            conn.end = "error: %r" % e
        finally:
            try:
                conn.sock.close()
            except OSError:
                pass
            try:
                self.log(conn, peer)
            finally:
                self.slots.release()

    def run(self):
        stop_at = time.monotonic() + PROCESS_LIFETIME
        sel = selectors.DefaultSelector()
        for name, socks in self.listeners.items():
            for s in socks:
                sel.register(s, selectors.EVENT_READ, name)
        self.write_ready()
        while time.monotonic() < stop_at:
            for key, _ in sel.select(timeout=1.0):
                try:
                    sock, peer = key.fileobj.accept()
                except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                    continue
                sock.setblocking(True)
                if not self.slots.acquire(blocking=False):
                    sock.close()
                    continue
                t = threading.Thread(target=self.serve_one, args=(key.data, sock, peer),
                                     daemon=True)
                t.start()


def on_signal(signum, frame):
    # Daemon threads die with the process; sockets close on exit.
    os._exit(0)


def main():
    p = argparse.ArgumentParser(description="A scriptable misbehaving mail server.")
    p.add_argument("--cert", help="PEM certificate (chain) for TLS (required)")
    p.add_argument("--key", help="PEM private key (required)")
    p.add_argument("--ready-file", help="written as JSON when listening (required)")
    p.add_argument("--evil-cert", help="PEM certificate for the tls-evil-cert scenario")
    p.add_argument("--evil-key", help="its private key")
    p.add_argument("--host", help="comma-separated addresses to listen on, one port for "
                   "all (default: 127.0.0.1 and ::1, or 127.0.0.1 alone without IPv6)")
    p.add_argument("--log", help="append one JSON line per finished connection")
    p.add_argument("--only", help="comma-separated scenario names (default: all)")
    p.add_argument("--list", action="store_true", help="print scenario names and exit")
    args = p.parse_args()
    args.host = args.host.split(",") if args.host else loopback.hosts()
    if args.list:
        print("\n".join(SCENARIOS))
        return 0
    if not (args.cert and args.key and args.ready_file):
        p.error("--cert, --key and --ready-file are required")
    names = list(SCENARIOS)
    if args.only:
        names = args.only.split(",")
        unknown = [n for n in names if n not in SCENARIOS]
        if unknown:
            p.error("unknown scenario(s): %s" % ", ".join(unknown))
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = Server(args)
    server.listen(names)
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
