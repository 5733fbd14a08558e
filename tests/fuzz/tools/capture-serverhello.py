#!/usr/bin/env python3
"""capture-serverhello.py - records seeds for fuzz_serverhello (tests/fuzz/corpus/serverhello/).

Starts `openssl s_server` on 127.0.0.1 (a free ephemeral port, a throwaway
self-signed certificate) restricted to one TLS version, sends it a ClientHello
made by Python's ssl module (a memory BIO, no handshake completed), and saves
the server's first flight (at most MAX_FLIGHT bytes) behind the target's flag
byte: version index (0 SSLv3 .. 4 TLS 1.3), bytes per read, EOF. It also
records the alert a server sends for a version it does not speak and a
HelloRetryRequest, then derives truncated and re-fragmented variants.
Every server it starts is stopped by PID. Run from anywhere:
capture-serverhello.py [CORPUS_DIR]
"""
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "corpus")
OUT = os.path.join(CORPUS, "serverhello")
MAX_FLIGHT = 3000      # bytes of the first flight kept in a seed
START_WAIT_S = 10      # bound on waiting for s_server to listen
READ_WAIT_S = 5        # bound on waiting for the server's answer
EOF_FLAG = 0x20
TLS10, TLS12, TLS13 = 1, 3, 4


def seed(name, flags, data):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([flags]) + data)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def client_hello(minv, maxv, seclevel0=False):
    """The ClientHello Python's OpenSSL sends for versions minv..maxv."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if seclevel0:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = minv
    ctx.maximum_version = maxv
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="mail.test")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def first_flight(port, hello):
    """Sends hello, returns what the server sends before it waits for us."""
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=READ_WAIT_S) as s:
        s.sendall(hello)
        end = time.monotonic() + READ_WAIT_S
        s.settimeout(0.5)
        while len(data) < MAX_FLIGHT and time.monotonic() < end:
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                if data:
                    break
                continue
            if not chunk:
                break
            data += chunk
    return data[:MAX_FLIGHT]


def with_server(args, work, fn):
    """Runs fn(port) against an s_server started with args, stopped by PID after."""
    port = free_port()
    cmd = ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port,
           "-cert", os.path.join(work, "cert.pem"), "-key", os.path.join(work, "key.pem"),
           "-quiet"] + args
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + START_WAIT_S
        while time.monotonic() < end:
            try:
                return fn(port)
            except ConnectionRefusedError:
                time.sleep(0.05)
        raise RuntimeError("s_server did not listen")
    finally:
        proc.terminate()
        proc.wait(timeout=START_WAIT_S)


def records(data):
    """Splits data into whole TLS records (a cut one last)."""
    out = []
    while len(data) >= 5:
        n = 5 + (data[3] << 8 | data[4])
        out.append(data[:n])
        data = data[n:]
    return out


def fragments(rec, cuts):
    """The handshake record rec split into records at the body offsets cuts."""
    body, hdr, out, prev = rec[5:], rec[:3], b"", 0
    for at in list(cuts) + [len(rec) - 5]:
        part = body[prev:at]
        out += hdr + len(part).to_bytes(2, "big") + part
        prev = at
    return out


def main():
    work = tempfile.mkdtemp(prefix="mp-serverhello-")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=mail.test", "-keyout", os.path.join(work, "key.pem"),
                    "-out", os.path.join(work, "cert.pem")], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    V = ssl.TLSVersion
    h12 = client_hello(V.TLSv1_2, V.TLSv1_2)
    h13 = client_hello(V.TLSv1_3, V.TLSv1_3)
    h10 = client_hello(V.TLSv1, V.TLSv1, seclevel0=True)
    lvl0 = ["-cipher", "DEFAULT:@SECLEVEL=0"]

    tls12 = with_server(["-tls1_2"], work, lambda p: first_flight(p, h12))
    tls13 = with_server(["-tls1_3"], work, lambda p: first_flight(p, h13))
    tls10 = with_server(["-tls1"] + lvl0, work, lambda p: first_flight(p, h10))
    alert12 = with_server(["-tls1_2"], work, lambda p: first_flight(p, h13))
    alert13 = with_server(["-tls1_3"], work, lambda p: first_flight(p, h12))
    hrr = with_server(["-tls1_3", "-groups", "P-384"], work, lambda p: first_flight(p, h13))

    seed("openssl-tls12", TLS12 | EOF_FLAG, tls12)
    seed("openssl-tls12-trickled", TLS12 | EOF_FLAG | 0x08, tls12)
    seed("openssl-tls13", TLS13 | EOF_FLAG, tls13)
    seed("openssl-tls13-5byte-reads", TLS13 | 0x10, tls13)
    seed("openssl-tls13-as-tls12", TLS12 | EOF_FLAG, tls13)
    seed("openssl-tls10-seclevel0", TLS10 | EOF_FLAG, tls10)
    seed("openssl-tls12-only-alert", TLS13 | EOF_FLAG, alert12)
    seed("openssl-tls13-only-alert", TLS12 | EOF_FLAG, alert13)
    seed("openssl-hello-retry", TLS13 | EOF_FLAG, hrr)
    # Derived: the ServerHello record cut short, and re-fragmented.
    sh12 = records(tls12)[0]
    sh13 = records(tls13)[0]
    seed("tls12-cut-in-header", TLS12 | EOF_FLAG, sh12[:7])
    seed("tls12-cut-in-body", TLS12 | EOF_FLAG, sh12[:45])
    seed("tls12-cut-silent", TLS12, sh12[:-1])
    seed("tls13-cut-in-extensions", TLS13 | EOF_FLAG, sh13[:-3])
    seed("tls13-two-fragments", TLS13 | EOF_FLAG, fragments(sh13, [2]))
    seed("tls12-three-fragments", TLS12 | 0x18 | EOF_FLAG,
         fragments(sh12, [40, len(sh12) - 25]))
    # SSL 3.0 (RFC 6101 5.6.1.3): the TLS 1.0 ServerHello with version 3.0.
    sh10 = records(tls10)[0]
    seed("ssl3-from-tls10", 0 | EOF_FLAG, sh10[:1] + b"\x03\x00" + sh10[3:9] + b"\x03\x00" +
         sh10[11:])
    # Not TLS at all: a mail server's greeting, and a ChangeCipherSpec first.
    seed("plaintext-greeting", TLS12 | EOF_FLAG, b"220 mx.example.org ESMTP Postfix\r\n")
    seed("ccs-first", TLS13 | EOF_FLAG, b"\x14\x03\x03\x00\x01\x01" + sh13)
    seed("warning-alert-split", TLS12 | 0x08, b"\x15\x03\x01\x00\x02\x01")
    subprocess.run(["rm", "-rf", work], check=True)


if __name__ == "__main__":
    main()
