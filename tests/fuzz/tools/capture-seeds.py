#!/usr/bin/env python3
"""capture-seeds.py - record real server replies as fuzz seeds.

Talks to running mail servers and proxies on loopback the way mailprobe does
(greeting, capabilities, STARTTLS, TLS, capabilities again, goodbye) and
writes what the servers sent as seed files in the fuzz input format
(tests/fuzz/README.md): a flag byte, then the replies separated by "%%\\n".

  capture-seeds.py mail ENVFILE OUTDIR     Postfix/Dovecot from servers.sh's
                                           servers.env (smtp, imap, pop3 seeds)
  capture-seeds.py socks5 PORT OUTDIR [USER PASS]
  capture-seeds.py socks4 PORT OUTDIR      SOCKS4 (dante)
  capture-seeds.py http PORT OUTDIR [USER PASS]
                                           proxy seeds, through the proxy to
                                           the SMTP port of ENV MP_SMTP_PORT
Only 127.0.0.0/8 is contacted. Every socket has a timeout.
"""
import base64
import os
import socket
import ssl
import struct
import sys

TIMEOUT_S = 5
SEP = b"%%\n"


def recv_until(sock, done, limit=65536):
    """Reads until done(buf) is true, EOF, or limit bytes."""
    buf = b""
    while not done(buf) and len(buf) < limit:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def smtp_done(buf):
    lines = buf.split(b"\r\n")
    return len(lines) > 1 and any(len(l) >= 4 and l[3:4] == b" " or len(l) == 3
                                  for l in lines[:-1])


def line_done(buf):
    return buf.endswith(b"\r\n")


def tagged_done(tag):
    return lambda buf: (b"\r\n" + tag + b" ") in b"\r\n" + buf and buf.endswith(b"\r\n")


def capa_done(buf):
    return buf.startswith(b"-ERR") and buf.endswith(b"\r\n") or buf.endswith(b"\r\n.\r\n")


def tls_wrap(sock):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx.wrap_socket(sock, server_hostname="localhost")


def converse(port, steps, src=None):
    """steps: (command or None, done, tls_after). Returns the replies."""
    sock = socket.create_connection(("127.0.0.1", port), TIMEOUT_S,
                                    source_address=(src, 0) if src else None)
    sock.settimeout(TIMEOUT_S)
    replies = []
    try:
        for cmd, done, tls_after in steps:
            if cmd is not None:
                sock.sendall(cmd + b"\r\n")
            replies.append(recv_until(sock, done))
            if tls_after:
                sock = tls_wrap(sock)
    finally:
        sock.close()
    return replies


def write_seed(outdir, name, header, replies):
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(bytes(header) + SEP.join(replies))
    print("wrote", os.path.join(outdir, name))


def mail(envfile, outdir):
    env = {}
    with open(envfile) as f:
        for line in f:
            if "=" in line and not line.startswith("#"):
                k, v = line.strip().split("=", 1)
                env[k] = v
    smtp = [(None, smtp_done, False), (b"EHLO probe.example", smtp_done, False),
            (b"STARTTLS", smtp_done, True), (b"EHLO probe.example", smtp_done, False),
            (b"QUIT", smtp_done, False)]
    imap = [(None, line_done, False), (b"a1 CAPABILITY", tagged_done(b"a1"), False),
            (b"a2 STARTTLS", tagged_done(b"a2"), True),
            (b"a3 CAPABILITY", tagged_done(b"a3"), False),
            (b"a4 LOGOUT", tagged_done(b"a4"), False)]
    pop3 = [(None, line_done, False), (b"CAPA", capa_done, False), (b"STLS", line_done, True),
            (b"CAPA", capa_done, False), (b"QUIT", line_done, False)]
    # 127.0.0.2 is what a remote client sees (Dovecot trusts its own address).
    for src, tag in ((None, "local"), ("127.0.0.2", "remote")):
        write_seed(os.path.join(outdir, "smtp"), "postfix-25-" + tag, [0x20],
                   converse(int(env["MP_SMTP_PORT"]), smtp, src))
        write_seed(os.path.join(outdir, "smtp"), "postfix-587-" + tag, [0x24],
                   converse(int(env["MP_SUBMISSION_PORT"]), smtp, src))
        write_seed(os.path.join(outdir, "imap"), "dovecot-143-" + tag, [0x20],
                   converse(int(env["MP_IMAP_PORT"]), imap, src))
        write_seed(os.path.join(outdir, "pop3"), "dovecot-110-" + tag, [0x20],
                   converse(int(env["MP_POP3_PORT"]), pop3, src))


def proxy(kind, port, outdir, user=None, password=None, dst_port=25):
    """One handshake through the proxy to 127.0.0.1:dst_port; records replies
    and the mail server's greeting after them."""
    sock = socket.create_connection(("127.0.0.1", port), TIMEOUT_S)
    sock.settimeout(TIMEOUT_S)
    replies = []
    try:
        if kind == "socks4":
            sock.sendall(struct.pack("!BBH4s", 4, 1, dst_port, socket.inet_aton("127.0.0.1"))
                         + b"\0")
            replies.append(recv_until(sock, lambda b: len(b) >= 8, 8))
        elif kind == "socks5":
            methods = b"\x00\x02" if user else b"\x00"
            sock.sendall(bytes([5, len(methods)]) + methods)
            replies.append(recv_until(sock, lambda b: len(b) >= 2, 2))
            if replies[-1][1:2] == b"\x02":
                u, p = user.encode(), password.encode()
                sock.sendall(bytes([1, len(u)]) + u + bytes([len(p)]) + p)
                replies.append(recv_until(sock, lambda b: len(b) >= 2, 2))
            sock.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1")
                         + struct.pack("!H", dst_port))
            replies.append(recv_until(sock, lambda b: len(b) >= 10, 10))
        else:
            req = "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (dst_port, dst_port)
            if user:
                cred = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
                req += "Proxy-Authorization: Basic %s\r\n" % cred
            sock.sendall(req.encode() + b"\r\n")
            replies.append(recv_until(sock, lambda b: b"\r\n\r\n" in b))
        # What follows the handshake belongs to the mail server.
        replies[-1] += recv_until(sock, line_done, 512)
    finally:
        sock.close()
    return replies


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "mail":
        mail(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) >= 4 and sys.argv[1] in ("socks4", "socks5", "http"):
        kind, port, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        user = sys.argv[4] if len(sys.argv) > 5 else None
        password = sys.argv[5] if len(sys.argv) > 5 else None
        dst = int(os.environ.get("MP_SMTP_PORT", "25"))
        replies = proxy(kind, port, outdir, user, password, dst)
        types = {"socks4": 0, "socks5": 2, "http": 4}
        # fuzz_proxy.c: type, credentials (0x18), IPv4 target (0x20); whole reads.
        flag = types[kind] | (0x18 if user else 0) | 0x20
        name = "%s-%s%s" % (kind, os.environ.get("MP_PROXY_NAME", "real"),
                            "-auth" if user else "")
        write_seed(outdir, name, [flag, 0], replies)
        return
    sys.stderr.write(__doc__)
    sys.exit(2)


if __name__ == "__main__":
    main()
