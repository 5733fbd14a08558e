#!/usr/bin/python3
"""dnsq.py - one DNS question over UDP to a loopback server, for test scripts.

Usage: dnsq.py ADDR PORT NAME TYPE   -> prints "RCODE ANCOUNT", exit 0 when
answered within 2 s, 1 otherwise. Standard library only; loopback use only.
"""
import random
import socket
import struct
import sys

TYPES = {"A": 1, "NS": 2, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33,
         "DS": 43, "DNSKEY": 48, "TLSA": 52}


def question(name, qtype):
    qid = random.randrange(65536)
    # RD set, one question, and an OPT record asking for DNSSEC data (DO)
    head = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split(".") if p)
    opt = b"\x00" + struct.pack(">HHIH", 41, 4096, 0x8000, 0)
    return qid, head + qname + b"\x00" + struct.pack(">HH", TYPES[qtype], 1) + opt


def main():
    addr, port, name, qtype = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    qid, pkt = question(name, qtype)
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    try:
        s.sendto(pkt, (addr, port))
        data, _ = s.recvfrom(65535)
    except OSError:
        return 1
    rid, flags, _qd, an = struct.unpack(">HHHH", data[:8])
    if rid != qid:
        return 1
    print(flags & 0xF, an)
    return 0


if __name__ == "__main__":
    sys.exit(main())
