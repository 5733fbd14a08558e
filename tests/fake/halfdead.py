#!/usr/bin/python3
"""halfdead.py - one port, two faces: on 127.0.0.1 a relay to a real server,
on ::1 a black hole (a listening socket whose backlog is full, so a connect
times out instead of being refused). For "IPv6 address unreachable while
IPv4 works". Loopback only.

Usage: halfdead.py --target-port P --ready-file F   (writes the port to F)
"""
import argparse
import os
import socket
import threading
import time

LIFETIME = 300


def pump(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def relay(listener, target_port):
    while True:
        c, _ = listener.accept()
        try:
            up = socket.create_connection(("127.0.0.1", target_port), timeout=5)
        except OSError:
            c.close()
            continue
        threading.Thread(target=pump, args=(c, up), daemon=True).start()
        threading.Thread(target=pump, args=(up, c), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target-port", type=int, required=True)
    ap.add_argument("--ready-file", required=True)
    a = ap.parse_args()
    for _ in range(50):
        v4 = socket.socket()
        v4.bind(("127.0.0.1", 0))
        port = v4.getsockname()[1]
        v6 = socket.socket(socket.AF_INET6)
        v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            v6.bind(("::1", port))
            break
        except OSError:
            v4.close()
            v6.close()
    v4.listen(16)
    v6.listen(0)
    # fill the one backlog slot: later SYNs are dropped
    filler = socket.create_connection(("::1", port))
    threading.Thread(target=relay, args=(v4, a.target_port), daemon=True).start()
    tmp = a.ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, a.ready_file)
    time.sleep(LIFETIME)
    filler.close()


if __name__ == "__main__":
    main()
