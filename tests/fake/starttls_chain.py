#!/usr/bin/python3
"""starttls_chain.py - an SMTP server that offers STARTTLS and then presents
a certificate chain chosen by the test, for DANE-TA cases no real server
setup gives cheaply (an anchor appended to a chain that does not lead to it).

Usage: starttls_chain.py --chain PEM --key KEY --ready-file F

PEM holds the leaf first, then whatever certificates are to be sent with it.
Listens on 127.0.0.1 at a free port (written to F when listening). Speaks
just enough ESMTP (RFC 5321, RFC 3207) for a probe: greeting, EHLO, STARTTLS,
EHLO again, QUIT. Standard library only; each connection lasts at most
CONN_S seconds; the process exits after LIFETIME seconds or on SIGTERM.
"""
import argparse
import os
import socket
import ssl
import threading

CONN_S = 20
LIFETIME = 600
MAX_LINE = 1024


def lines(f):
    """Client lines, bounded in length and count."""
    for _ in range(50):
        line = f.readline(MAX_LINE)
        if not line:
            return
        yield line.strip().upper()


def serve(conn, ctx):
    conn.settimeout(CONN_S)
    try:
        f = conn.makefile("rb", buffering=0)
        conn.sendall(b"220 chain.test ESMTP\r\n")
        for line in lines(f):
            if line.startswith(b"EHLO") or line.startswith(b"HELO"):
                conn.sendall(b"250-chain.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
            elif line == b"STARTTLS":
                conn.sendall(b"220 go ahead\r\n")
                tls = ctx.wrap_socket(conn, server_side=True)
                tls.settimeout(CONN_S)
                tf = tls.makefile("rb", buffering=0)
                for tline in lines(tf):
                    if tline.startswith(b"EHLO"):
                        tls.sendall(b"250-chain.test\r\n250 8BITMIME\r\n")
                    elif tline == b"QUIT":
                        tls.sendall(b"221 bye\r\n")
                        break
                    else:
                        tls.sendall(b"502 no\r\n")
                tls.close()
                return
            elif line == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                break
            else:
                conn.sendall(b"502 no\r\n")
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chain", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ready-file", required=True)
    a = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.chain, a.key)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    threading.Timer(LIFETIME, lambda: os._exit(0)).start()
    tmp = a.ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(tmp, a.ready_file)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c, ctx), daemon=True).start()


if __name__ == "__main__":
    main()
