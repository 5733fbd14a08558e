#!/usr/bin/python3
"""httpsd.py - a small HTTPS server for the domain tests (MTA-STS, autoconfig).

Usage: httpsd.py --root DIR --cert CERT --key KEY --ready-file F [--port N]

Serves DIR/<Host header without port>/<path without query> on 127.0.0.1 (port
0 = a free one; the port is written to F once listening). A file named
*.redirect holds a Location: answered with 301; a file *.ctype beside a file
holds its Content-Type (default text/plain for .txt, else text/xml); a file
*.stall beside it makes the answer promise 100 bytes more than it sends and
then stall (up to STALL_S seconds). Standard library only;
loopback only; exits after LIFETIME seconds or on SIGTERM.
"""
import argparse
import http.server
import os
import ssl
import threading
import time

LIFETIME = 600
STALL_S = 20


class Handler(http.server.BaseHTTPRequestHandler):
    root = "."

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        path = self.path.split("?")[0]
        if ".." in host or ".." in path or "/" in host:
            self.send_error(400)
            return
        local = os.path.join(self.root, host, path.lstrip("/"))
        if os.path.isfile(local + ".redirect"):
            with open(local + ".redirect") as f:
                target = f.read().strip()
            self.send_response(301)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if not os.path.isfile(local):
            self.send_error(404)
            return
        size = os.path.getsize(local)
        ctype = "text/plain" if path.endswith(".txt") else "text/xml"
        if os.path.isfile(local + ".ctype"):
            with open(local + ".ctype") as f:
                ctype = f.read().strip()
        stall = os.path.isfile(local + ".stall")
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(size + 100 if stall else size))
        self.end_headers()
        with open(local, "rb") as f:
            while True:
                chunk = f.read(65536)
                if not chunk:
                    break
                try:
                    self.wfile.write(chunk)
                except OSError:
                    return
        if stall:
            self.wfile.flush()
            self.connection.settimeout(STALL_S)
            try:
                self.connection.recv(1)  # until the client gives up, bounded
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    Handler.root = a.root
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Timer(LIFETIME, srv.shutdown).start()
    tmp = a.ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.ready_file)
    srv.serve_forever()
    os._exit(0)


if __name__ == "__main__":
    main()
