#!/usr/bin/python3
"""Clients (and one silent server) for test_serve*.sh, test_prometheus.sh and
tests/bench/bench_serve.py. Loopback only; every wait is bounded.

  serve_clients.py freeport
      prints a free TCP port on 127.0.0.1 (bound, then released)
  serve_clients.py silent PORTFILE [MAX_SECONDS]
      listens on 127.0.0.1:0, writes the port to PORTFILE, accepts connections
      and never says a word; exits after MAX_SECONDS (default 300)
  serve_clients.py flood HOST PORT PATH N OUT.json
      N concurrent GETs of PATH (threads released together); writes
      {"codes": {code: count}, "errors": [...], "retry_after_missing": n,
       "seconds": s} to OUT.json
  serve_clients.py huge HOST PORT BYTES
      one GET whose query string is BYTES long; prints the status code (or
      "closed" when the server closes without an answer)
  serve_clients.py trickle HOST PORT N SECONDS PORTFILE
      N connections (from 127.0.0.2) each send a request line, then one
      header line every 4 s, for SECONDS; writes "open" to PORTFILE once all
      are connected; prints how many the server closed meanwhile
  serve_clients.py timed HOST PORT PATH OUT.json [SECONDS]
      one GET every 0.25 s for SECONDS (default 8): writes the status codes
      and the slowest answer's time to OUT.json
  serve_clients.py stall HOST PORT N WAIT_S OUT.json
      N connections each send half a request and stall; records after how
      many seconds the server closed each (null: still open after WAIT_S)
"""
import json
import socket
import sys
import threading
import time

IO_TIMEOUT_S = 60


def freeport():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def silent(portfile, max_s=300.0):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(512)
    srv.settimeout(0.5)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    import os
    os.rename(portfile + ".tmp", portfile)
    held = []
    end = time.monotonic() + max_s
    while time.monotonic() < end:
        try:
            c, _ = srv.accept()
            held.append(c)
        except socket.timeout:
            pass
        # forget connections the client closed
        if len(held) > 256:
            held = held[-256:]


def read_response(sock):
    """Reads one HTTP response: returns (code, headers dict, body bytes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the headers (%d bytes)" % len(data))
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    code = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    want = int(headers.get("content-length", "-1"))
    while want < 0 or len(body) < want:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return code, headers, body


def get(host, port, path, timeout=IO_TIMEOUT_S, headers=None):
    s = socket.create_connection((host, port), timeout=timeout)
    extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: %s:%d\r\n%sConnection: close\r\n\r\n"
                   % (path, host, port, extra)).encode())
        return read_response(s)
    finally:
        s.close()


def flood(host, port, path, n, out):
    codes, errors = {}, []
    missing = [0]
    lock = threading.Lock()
    barrier = threading.Barrier(n)

    def one():
        try:
            barrier.wait(timeout=IO_TIMEOUT_S)
            code, headers, _ = get(host, port, path)
            with lock:
                codes[code] = codes.get(code, 0) + 1
                if code == 503 and not headers.get("retry-after", "").isdigit():
                    missing[0] += 1
        except Exception as e:  # noqa: BLE001 - every failure is counted
            with lock:
                errors.append("%s: %s" % (type(e).__name__, e))

    threading.stack_size(256 * 1024)
    t0 = time.monotonic()
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(IO_TIMEOUT_S + 10)
    res = {"codes": {str(k): v for k, v in sorted(codes.items())}, "errors": errors[:20],
           "nerrors": len(errors), "retry_after_missing": missing[0],
           "seconds": round(time.monotonic() - t0, 3)}
    with open(out, "w") as f:
        json.dump(res, f)
    print(json.dumps(res))


def huge(host, port, nbytes):
    s = socket.create_connection((host, port), timeout=30)
    path = "/probe?target=" + "a" * max(0, nbytes - len("/probe?target="))
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode()
    try:
        try:
            s.sendall(req)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading it all
        try:
            code, _, _ = read_response(s)
            print(code)
        except (ConnectionError, OSError):
            print("closed")
    finally:
        s.close()


def stall(host, port, n, wait_s, out):
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"GET /probe?target=127.0.0.1&module=tls HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
        socks.append(s)
    t0 = time.monotonic()
    closed = [None] * n
    for s in socks:
        s.setblocking(False)
    import select
    while time.monotonic() - t0 < wait_s and None in closed:
        open_ = [s for i, s in enumerate(socks) if closed[i] is None]
        r, _, _ = select.select(open_, [], [], 0.2)
        for s in r:
            i = socks.index(s)
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            except BlockingIOError:
                continue
            if not data:
                closed[i] = round(time.monotonic() - t0, 2)
            # an answer before closing (e.g. 408) is fine too: keep reading to EOF
    for s in socks:
        s.close()
    with open(out, "w") as f:
        json.dump({"closed_after_s": closed}, f)


def trickle(host, port, n, seconds, portfile):
    socks, closed = [], 0
    for _ in range(n):
        s = socket.socket()
        s.settimeout(5)
        s.bind(("127.0.0.2", 0))
        s.connect((host, port))
        s.sendall(b"GET /probe?target=127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        s.setblocking(False)
        socks.append(s)
    with open(portfile, "w") as f:
        f.write("open\n")
    end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < end:
        time.sleep(4)
        for s in socks:
            if s.fileno() < 0:
                continue
            try:
                s.send(b"X-Slow-%d: 1\r\n" % k)
            except OSError:
                closed += 1
                s.close()
        k += 1
    for s in socks:
        s.close()
    print(closed)


def timed(host, port, path, out, seconds=8.0):
    codes, worst = {}, 0.0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            code, _, _ = get(host, port, path, timeout=10)
        except Exception as e:  # noqa: BLE001 - every failure is recorded
            code = type(e).__name__
        worst = max(worst, time.monotonic() - t0)
        codes[str(code)] = codes.get(str(code), 0) + 1
        time.sleep(0.25)
    with open(out, "w") as f:
        json.dump({"codes": codes, "worst_s": round(worst, 3)}, f)


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "freeport":
        print(freeport())
    elif cmd == "silent":
        silent(argv[2], float(argv[3]) if len(argv) > 3 else 300.0)
    elif cmd == "flood":
        flood(argv[2], int(argv[3]), argv[4], int(argv[5]), argv[6])
    elif cmd == "huge":
        huge(argv[2], int(argv[3]), int(argv[4]))
    elif cmd == "trickle":
        trickle(argv[2], int(argv[3]), int(argv[4]), float(argv[5]), argv[6])
    elif cmd == "timed":
        timed(argv[2], int(argv[3]), argv[4], argv[5], float(argv[6]) if len(argv) > 6 else 8.0)
    elif cmd == "stall":
        stall(argv[2], int(argv[3]), int(argv[4]), float(argv[5]), argv[6])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
