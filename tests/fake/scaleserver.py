#!/usr/bin/python3
"""scaleserver.py - a plain SMTP server for the scale tests (test_scale.sh).

Two listeners, each on the same port on every --host address:
  * "count": waits --hold seconds, then greets 220, answers EHLO and QUIT;
    records the most connections open at once per local address (the address
    the client connected to) and writes them as JSON to --stats on every
    change: {"127.0.0.2": 2, ...}. A connection the client has closed stops
    counting when the next one arrives, even if its handler has not noticed
    yet (one closed without QUIT, during the hold).
  * "busy": answers "421 4.3.2 busy, try again later" to the first --busy
    connections (then closes), and greets 220 after that.

With --accepts F, one line per accepted connection is appended to F:
"<monotonic seconds> <local address>".

Usage: scaleserver.py --host A[,A...] --ready-file F --stats F [--hold S] [--busy N]
                      [--accepts F]
The ready file is written atomically: {"count": port, "busy": port}.
Every connection lasts at most CONN_LIFETIME seconds; the process exits by
itself after PROCESS_LIFETIME seconds or on SIGTERM. Loopback only.
Standard library only.
"""

import argparse
import json
import os
import select
import signal
import socket
import sys
import threading
import time

CONN_LIFETIME = 20.0
PROCESS_LIFETIME = 600.0
MAX_LINE = 4096
BACKLOG = 512

lock = threading.Lock()
current = {}
peak = {}
open_conns = {}   # address -> [(conn, counted)] still counted
busy_left = [0]


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def serve_smtp(conn, leaving):
    """Greets, then answers EHLO/HELO and QUIT until the client leaves;
    leaving() is called on QUIT before the 221 goes out, so that the client,
    which waits for the 221, can only open its next connection after this
    one stopped counting (else a thread scheduled late would see one more)."""
    conn.sendall(b"220 scale.test ESMTP\r\n")
    buf = b""
    while True:
        data = conn.recv(MAX_LINE)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            word = line.strip().split(b" ")[0].upper()
            if word in (b"EHLO", b"HELO"):
                conn.sendall(b"250-scale.test\r\n250 8BITMIME\r\n")
            elif word == b"QUIT":
                leaving()
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"502 not here\r\n")
        if len(buf) > MAX_LINE:
            return


def closed_by_client(conn):
    """True when the client has closed conn (EOF or reset waiting to be read).
    Loopback delivers a close before the client's next connect, so at accept
    time this tells which counted connections the client no longer has."""
    p = select.poll()
    p.register(conn, select.POLLIN)
    if not p.poll(0):
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def uncount(addr, entry):
    """Stops counting one connection. Call with the lock held."""
    if entry[1][0]:
        entry[1][0] = False
        current[addr] -= 1
        open_conns[addr].remove(entry)


def handle(conn, kind, args):
    addr = conn.getsockname()[0]
    counted = [True]
    me = (conn, counted)
    conn.settimeout(CONN_LIFETIME)

    def leaving():
        with lock:
            uncount(addr, me)

    if args.accepts:
        with lock, open(args.accepts, "a") as f:
            f.write("%.6f %s\n" % (time.monotonic(), addr))
    with lock:
        # a connection the client closed while its handler still sleeps (the
        # hold) or has not read the close yet is not open any more
        for entry in list(open_conns.get(addr, [])):
            if closed_by_client(entry[0]):
                uncount(addr, entry)
        open_conns.setdefault(addr, []).append(me)
        current[addr] = current.get(addr, 0) + 1
        if current[addr] > peak.get(addr, 0):
            peak[addr] = current[addr]
            write_json(args.stats, peak)
    try:
        if kind == "busy":
            with lock:
                refuse = busy_left[0] > 0
                busy_left[0] -= 1 if refuse else 0
            if refuse:
                conn.sendall(b"421 4.3.2 busy, try again later\r\n")
                return
        else:
            time.sleep(args.hold)
        serve_smtp(conn, leaving)
    except OSError:
        pass
    finally:
        leaving()
        conn.close()


def accept_loop(sock, kind, args):
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        threading.Thread(target=handle, args=(conn, kind, args), daemon=True).start()


def listen_all(hosts):
    """One listening socket per host, all on one free port."""
    for _ in range(50):
        socks = []
        port = 0
        try:
            for h in hosts:
                fam = socket.AF_INET6 if ":" in h else socket.AF_INET
                s = socket.socket(fam, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((h, port))
                s.listen(BACKLOG)
                port = s.getsockname()[1]
                socks.append(s)
            return port, socks
        except OSError:
            for s in socks:
                s.close()
    sys.exit("no common free port")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--stats", required=True)
    ap.add_argument("--hold", type=float, default=0.15)
    ap.add_argument("--busy", type=int, default=2)
    ap.add_argument("--accepts", help="append one line per accepted connection")
    args = ap.parse_args()
    hosts = args.host.split(",")
    for h in hosts:
        if not (h.startswith("127.") or h == "::1"):
            sys.exit("loopback addresses only: %s" % h)
    busy_left[0] = args.busy
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.alarm(int(PROCESS_LIFETIME))
    ready = {}
    for kind in ("count", "busy"):
        port, socks = listen_all(hosts)
        ready[kind] = port
        for s in socks:
            threading.Thread(target=accept_loop, args=(s, kind, args), daemon=True).start()
    write_json(args.stats, peak)
    write_json(args.ready_file, ready)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
