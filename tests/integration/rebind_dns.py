#!/usr/bin/python3
"""rebind_dns.py - a DNS server on 127.0.0.1 that rebinds: the first A
question for a name gets FIRST, every later one SECOND (TTL 0); AAAA gets no
records. Logs each question ("TYPE NAME") to LOG. For test_serve_hardening.sh.

Usage: rebind_dns.py PORTFILE LOG FIRST SECOND [MAX_SECONDS]
Standard library only; loopback only; exits after MAX_SECONDS (default 240).
"""
import os
import socket
import struct
import sys
import time


def main():
    portfile, log, first, second = sys.argv[1:5]
    max_s = float(sys.argv[5]) if len(sys.argv) > 5 else 240.0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(0.5)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    seen = set()
    end = time.monotonic() + max_s
    while time.monotonic() < end:
        try:
            pkt, peer = s.recvfrom(4096)
        except socket.timeout:
            continue
        if len(pkt) < 12:
            continue
        qid, flags = struct.unpack(">HH", pkt[:4])
        i, labels = 12, []
        while i < len(pkt) and pkt[i]:
            labels.append(pkt[i + 1:i + 1 + pkt[i]].decode("ascii", "replace"))
            i += 1 + pkt[i]
        qend = i + 5
        if qend > len(pkt):
            continue
        qtype = struct.unpack(">H", pkt[i + 1:i + 3])[0]
        name = ".".join(labels).lower()
        with open(log, "a") as f:
            f.write("%s %s\n" % ({1: "A", 28: "AAAA"}.get(qtype, str(qtype)), name))
        answers = b""
        count = 0
        if qtype == 1:
            addr = second if name in seen else first
            seen.add(name)
            answers = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 0, 4) + socket.inet_aton(addr)
            count = 1
        head = struct.pack(">HHHHHH", qid, 0x8180 | (flags & 0x0100), 1, count, 0, 0)
        s.sendto(head + pkt[12:qend] + answers, peer)


if __name__ == "__main__":
    main()
