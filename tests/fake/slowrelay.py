#!/usr/bin/env python3
"""slowrelay.py - a TCP relay on loopback that holds the server's first
bytes back: a real server made slow, as one is under load (issue 23).

    slowrelay.py LISTEN_PORT TARGET_PORT DELAY_MS READY_FILE

Listens on 127.0.0.1:LISTEN_PORT, connects each client to
127.0.0.1:TARGET_PORT, passes the client's bytes at once and the server's
first chunk of each connection only after DELAY_MS, the rest at once.
Writes READY_FILE once listening. Runs until killed; each connection ends
after at most CONN_LIMIT_S seconds.
"""
import socket
import sys
import threading
import time

CONN_LIMIT_S = 30
HOST = "127.0.0.1"


def pump(src, dst, delay_s, deadline):
    first = True
    try:
        src.settimeout(1.0)
        while time.monotonic() < deadline:
            try:
                data = src.recv(65536)
            except socket.timeout:
                continue
            if not data:
                break
            if first and delay_s > 0:
                time.sleep(delay_s)
            first = False
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(client, target, delay_s):
    deadline = time.monotonic() + CONN_LIMIT_S
    try:
        server = socket.create_connection((HOST, target), timeout=5)
    except OSError:
        client.close()
        return
    t = threading.Thread(target=pump, args=(client, server, 0, deadline), daemon=True)
    t.start()
    pump(server, client, delay_s, deadline)
    t.join(timeout=CONN_LIMIT_S)
    client.close()
    server.close()


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    port, target, delay_ms, ready = int(argv[1]), int(argv[2]), int(argv[3]), argv[4]
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((HOST, port))
    ls.listen(64)
    with open(ready, "w") as f:
        f.write("ready\n")
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, target, delay_ms / 1000.0), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
