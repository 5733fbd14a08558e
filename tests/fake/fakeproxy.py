#!/usr/bin/python3
"""fakeproxy.py - a small scriptable SOCKS4/4a/5 and HTTP CONNECT proxy that
misbehaves on purpose, for what real proxies will not do: truncated replies,
wrong version bytes, silence, an HTTP reply without its blank line, a 10 MiB
header, 502/503/504, and relays that send the mail server's first bytes in the
same segment as their own reply. Two relays also do what the installed real
proxies cannot (SOCKS4a with a host name: dante 1.4 does not do 4a).

Usage:
    fakeproxy.py --ready-file F [--host ADDR[,ADDR...]] [--log FILE] [--only A,B]
    fakeproxy.py --list

Every scenario listens on its own ephemeral port (bind port 0), the same port
on each --host address (default: 127.0.0.1 and ::1, see loopback.py). When all
are listening, F is written atomically as JSON {"scenario-name": port, ...}.
Relays connect only to loopback addresses (127.0.0.0/8, ::1). Each connection
lasts at most CONN_LIFETIME seconds; the process exits by itself after
PROCESS_LIFETIME seconds, or on SIGTERM / SIGINT.

With --log, one JSON line per finished connection is appended to FILE:
{"scenario", "duration_ms", "request": what the client asked for (hex of the
request bytes and, where parsed, "host"/"port"/"user"), "end": why it ended}.
The password is never logged.

Standard library only (Python 3.11).
"""

import argparse
import ipaddress
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time

import loopback

CONN_LIFETIME = 30.0          # seconds one connection may last
PROCESS_LIFETIME = 600.0      # seconds the whole process may run
MAX_CONNECTIONS = 64          # concurrent connections served
MAX_REQUEST = 8192            # most bytes of a client request we read
HUGE_HEADER = 10 * 1024 * 1024
RECV_CHUNK = 16384
GREETING_WAIT = 2.0           # seconds a relay waits for the server's first bytes


class Ended(Exception):
    """The connection is over (client closed, deadline, or done)."""

    def __init__(self, why):
        super().__init__(why)
        self.why = why


class Conn:
    """One client connection with a hard deadline; every wait is bounded."""

    def __init__(self, sock, scenario):
        self.sock = sock
        self.scenario = scenario
        self.started = time.monotonic()
        self.deadline = self.started + CONN_LIFETIME
        self.buf = b""
        self.request = {}
        self.raw = b""
        self.end = "done"

    def left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Ended("deadline")
        return left

    def send(self, data):
        view = memoryview(data)
        while view:
            self.sock.settimeout(min(self.left(), 5.0))
            try:
                n = self.sock.send(view)
            except socket.timeout:
                continue
            except OSError as e:
                raise Ended("send failed: %s" % e)
            view = view[n:]

    def _fill(self):
        """Reads more client bytes into buf (bounded)."""
        if len(self.raw) > MAX_REQUEST:
            raise Ended("client request too long")
        self.sock.settimeout(self.left())
        try:
            data = self.sock.recv(RECV_CHUNK)
        except socket.timeout:
            raise Ended("deadline")
        except OSError as e:
            raise Ended("recv failed: %s" % e)
        if not data:
            raise Ended("client_closed")
        self.buf += data
        self.raw += data

    def recv_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def recv_until(self, marker):
        while marker not in self.buf:
            self._fill()
        data, self.buf = self.buf.split(marker, 1)
        return data

    def silence(self):
        """Says nothing until the client gives up (or the deadline)."""
        while True:
            self.sock.settimeout(min(self.left(), 1.0))
            try:
                data = self.sock.recv(RECV_CHUNK)
            except socket.timeout:
                continue
            except OSError:
                raise Ended("client_closed")
            if not data:
                raise Ended("client_closed")


# --- request parsers (the client side is mailprobe) --------------------------

def read_socks4(conn):
    """SOCKS4/4a CONNECT: VN CD DSTPORT DSTIP USERID NUL [HOST NUL]."""
    head = conn.recv_exact(8)
    if head[0] != 4 or head[1] != 1:
        raise Ended("not a SOCKS4 CONNECT: %s" % head[:2].hex())
    port = int.from_bytes(head[2:4], "big")
    ip = head[4:8]
    user = conn.recv_until(b"\0")
    conn.request.update(port=port, user=user.decode("latin-1"))
    if ip[:3] == b"\0\0\0" and ip[3] != 0:
        conn.request["host"] = conn.recv_until(b"\0").decode("latin-1")
    else:
        conn.request["host"] = socket.inet_ntoa(ip)
    return conn.request["host"], port


def read_socks5_greeting(conn):
    ver, n = conn.recv_exact(2)
    if ver != 5:
        raise Ended("not a SOCKS5 greeting: version %d" % ver)
    conn.request["methods"] = conn.recv_exact(n).hex()


def read_socks5_connect(conn):
    ver, cmd, _, atyp = conn.recv_exact(4)
    if ver != 5 or cmd != 1:
        raise Ended("not a SOCKS5 CONNECT")
    if atyp == 1:
        host = socket.inet_ntop(socket.AF_INET, conn.recv_exact(4))
    elif atyp == 4:
        host = socket.inet_ntop(socket.AF_INET6, conn.recv_exact(16))
    elif atyp == 3:
        host = conn.recv_exact(conn.recv_exact(1)[0]).decode("latin-1")
    else:
        raise Ended("unknown ATYP %d" % atyp)
    port = int.from_bytes(conn.recv_exact(2), "big")
    conn.request.update(host=host, port=port, atyp=atyp)
    return host, port


def read_http_connect(conn):
    head = conn.recv_until(b"\r\n\r\n").decode("latin-1")
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[0] != "CONNECT":
        raise Ended("not a CONNECT request: %r" % lines[0][:80])
    hostport = parts[1]
    host, _, port = hostport.rpartition(":")
    conn.request.update(host=host.strip("[]"), port=int(port),
                        headers=[l.split(":", 1)[0] for l in lines[1:]])
    return conn.request["host"], conn.request["port"]


# --- relaying ------------------------------------------------------------------

def connect_loopback(host, port):
    """Connects to host:port, which must resolve to a loopback address."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for family, stype, proto, _, addr in infos:
        if not ipaddress.ip_address(addr[0].split("%")[0]).is_loopback:
            continue
        s = socket.socket(family, stype, proto)
        s.settimeout(5.0)
        try:
            s.connect(addr)
            return s
        except OSError:
            s.close()
    raise Ended("cannot reach %s:%d on loopback" % (host, port))


def relay(conn, reply, host, port):
    """Connects to the target, waits for its first bytes (the greeting), and
    sends reply and those bytes in one send(); then relays both ways."""
    up = connect_loopback(host, port)
    try:
        up.settimeout(min(conn.left(), GREETING_WAIT))
        try:
            first = up.recv(RECV_CHUNK)
        except socket.timeout:
            first = b""   # implicit TLS: the client speaks first
        conn.send(reply + first)
        if conn.buf:
            up.sendall(conn.buf)
            conn.buf = b""
        sel = selectors.DefaultSelector()
        conn.sock.setblocking(False)
        up.setblocking(False)
        sel.register(conn.sock, selectors.EVENT_READ, up)
        sel.register(up, selectors.EVENT_READ, conn.sock)
        while True:
            for key, _ in sel.select(timeout=min(conn.left(), 1.0)):
                try:
                    data = key.fileobj.recv(RECV_CHUNK)
                except BlockingIOError:
                    continue
                except OSError:
                    raise Ended("relay closed")
                if not data:
                    raise Ended("relay closed")
                key.data.setblocking(True)
                key.data.settimeout(5.0)
                try:
                    key.data.sendall(data)
                except OSError:
                    raise Ended("relay closed")
                key.data.setblocking(False)
    finally:
        up.close()


# --- scenarios -----------------------------------------------------------------

SOCKS5_OK = b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00"
SOCKS4_OK = b"\x00\x5a\x00\x00\x00\x00\x00\x00"


def s_socks5_truncated(conn):
    """Method reply, then 6 of the 10 bytes of the connect reply, then FIN."""
    read_socks5_greeting(conn)
    conn.send(b"\x05\x00")
    read_socks5_connect(conn)
    conn.send(SOCKS5_OK[:6])


def s_socks5_wrong_version(conn):
    """Answers the SOCKS5 greeting as if it were SOCKS4."""
    read_socks5_greeting(conn)
    conn.send(b"\x04\x00")
    conn.silence()


def s_socks5_silent_after_greeting(conn):
    """Reads the greeting and says nothing."""
    read_socks5_greeting(conn)
    conn.silence()


def s_socks5_silent_after_connect(conn):
    """Chooses "no authentication", then says nothing to CONNECT."""
    read_socks5_greeting(conn)
    conn.send(b"\x05\x00")
    read_socks5_connect(conn)
    conn.silence()


def s_socks5_bad_atyp(conn):
    read_socks5_greeting(conn)
    conn.send(b"\x05\x00")
    read_socks5_connect(conn)
    conn.send(b"\x05\x00\x00\x09\x00\x00\x00\x00\x00\x00")
    conn.silence()


def s_socks5_ttl_expired(conn):
    read_socks5_greeting(conn)
    conn.send(b"\x05\x00")
    read_socks5_connect(conn)
    conn.send(b"\x05\x06\x00\x01\x00\x00\x00\x00\x00\x00")


def s_socks5_eager_relay(conn):
    """A working SOCKS5 proxy whose reply (BND as a domain name) and the
    server's greeting arrive in one segment."""
    read_socks5_greeting(conn)
    conn.send(b"\x05\x00")
    host, port = read_socks5_connect(conn)
    relay(conn, b"\x05\x00\x00\x03\x09localhost\x00\x00", host, port)


def s_socks4_truncated(conn):
    read_socks4(conn)
    conn.send(SOCKS4_OK[:3])


def s_socks4_wrong_version(conn):
    read_socks4(conn)
    conn.send(b"\x04\x5a\x00\x00\x00\x00\x00\x00")
    conn.silence()


def s_socks4a_relay(conn):
    """A working SOCKS4a proxy: resolves the name it is sent (loopback only)."""
    host, port = read_socks4(conn)
    relay(conn, SOCKS4_OK, host, port)


def s_http_no_blank_line(conn):
    read_http_connect(conn)
    conn.send(b"HTTP/1.1 200 Connection established\r\nVia: 1.1 fakeproxy\r\n")
    conn.silence()


def s_http_huge_header(conn):
    """200, then 10 MiB of header lines."""
    read_http_connect(conn)
    conn.send(b"HTTP/1.1 200 Connection established\r\n")
    line = b"X-Pad: " + b"a" * 57 + b"\r\n"
    chunk = line * 1024
    for _ in range(HUGE_HEADER // len(chunk)):
        conn.send(chunk)
    conn.send(b"\r\n")
    conn.silence()


def s_http_huge_line(conn):
    """200, then one 10 MiB header line."""
    read_http_connect(conn)
    conn.send(b"HTTP/1.1 200 Connection established\r\nX-Big: ")
    chunk = b"b" * 65536
    for _ in range(HUGE_HEADER // len(chunk)):
        conn.send(chunk)
    conn.silence()


def http_status(code, reason):
    def scenario(conn):
        read_http_connect(conn)
        conn.send(("HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                   % (code, reason)).encode())
    scenario.__doc__ = "Answers CONNECT with %d %s." % (code, reason)
    return scenario


def s_http_eager_relay(conn):
    """A working HTTP proxy whose 200 header and the server's greeting arrive
    in one segment."""
    host, port = read_http_connect(conn)
    relay(conn, b"HTTP/1.1 200 Connection established\r\nProxy-Agent: fakeproxy\r\n\r\n",
          host, port)


SCENARIOS = {
    "socks5-truncated": s_socks5_truncated,
    "socks5-wrong-version": s_socks5_wrong_version,
    "socks5-silent-after-greeting": s_socks5_silent_after_greeting,
    "socks5-silent-after-connect": s_socks5_silent_after_connect,
    "socks5-bad-atyp": s_socks5_bad_atyp,
    "socks5-ttl-expired": s_socks5_ttl_expired,
    "socks5-eager-relay": s_socks5_eager_relay,
    "socks4-truncated": s_socks4_truncated,
    "socks4-wrong-version": s_socks4_wrong_version,
    "socks4a-relay": s_socks4a_relay,
    "http-no-blank-line": s_http_no_blank_line,
    "http-huge-header": s_http_huge_header,
    "http-huge-line": s_http_huge_line,
    "http-502": http_status(502, "Bad Gateway"),
    "http-503": http_status(503, "Service Unavailable"),
    "http-504": http_status(504, "Gateway Timeout"),
    "http-eager-relay": s_http_eager_relay,
}


# --- server ----------------------------------------------------------------------

class Server:
    def __init__(self, args):
        self.args = args
        self.socks = {}
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.log_lock = threading.Lock()

    def listen(self, names):
        for name in names:
            # one port per scenario, listening on every --host address
            self.socks[name] = loopback.listen_same_port(self.args.host, 16)
        ports = {name: socks[0].getsockname()[1] for name, socks in self.socks.items()}
        tmp = self.args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(ports, f)
        os.replace(tmp, self.args.ready_file)

    def log(self, conn):
        if not self.args.log:
            return
        rec = {"scenario": conn.scenario,
               "duration_ms": int((time.monotonic() - conn.started) * 1000),
               "request": dict(conn.request, raw=conn.raw[:512].hex()),
               "end": conn.end}
        if conn.scenario.startswith("http"):
            # the Proxy-Authorization value would carry the password
            rec["request"]["raw"] = None
        with self.log_lock:
            with open(self.args.log, "a") as f:
                f.write(json.dumps(rec) + "\n")

    def serve(self, sock, name):
        conn = Conn(sock, name)
        try:
            SCENARIOS[name](conn)
        except Ended as e:
            conn.end = e.why
        except Exception as e:   # a bug here must not kill the process
            conn.end = "error: %s: %s" % (type(e).__name__, e)
        finally:
            try:
                sock.close()
            except OSError:
                pass
            self.log(conn)
            self.slots.release()

    def run(self):
        sel = selectors.DefaultSelector()
        for name, socks in self.socks.items():
            for s in socks:
                sel.register(s, selectors.EVENT_READ, name)
        end = time.monotonic() + PROCESS_LIFETIME
        while time.monotonic() < end:
            for key, _ in sel.select(timeout=1.0):
                try:
                    sock, _ = key.fileobj.accept()
                except OSError:
                    continue
                if not self.slots.acquire(blocking=False):
                    sock.close()
                    continue
                threading.Thread(target=self.serve, args=(sock, key.data), daemon=True).start()


def on_signal(signum, frame):
    sys.exit(0)


def main():
    p = argparse.ArgumentParser(description="A scriptable misbehaving proxy.")
    p.add_argument("--ready-file", help="written as JSON when listening")
    p.add_argument("--host", help="comma-separated addresses to listen on, one port for "
                   "all (default: 127.0.0.1 and ::1, or 127.0.0.1 alone without IPv6)")
    p.add_argument("--log", help="append one JSON line per finished connection")
    p.add_argument("--only", help="comma-separated scenario names (default: all)")
    p.add_argument("--list", action="store_true", help="print scenario names and exit")
    args = p.parse_args()
    args.host = args.host.split(",") if args.host else loopback.hosts()
    if args.list:
        for name, fn in SCENARIOS.items():
            print("%-30s %s" % (name, (fn.__doc__ or "").strip().split("\n")[0]))
        return 0
    if not args.ready_file:
        p.error("--ready-file is required")
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
