#!/usr/bin/python3
"""Scale benchmark: many endpoint probes on loopback (issue 12). Prints figures.

    tests/bench/bench_scale.py [--build DIR] [--probes 10000] [--concurrency 1000]

It starts its own implicit-TLS SMTP server (Python asyncio, one process per
core, SO_REUSEPORT, an EC P-256 certificate made with openssl) on 127.0.0.1,
then measures:
  1. capacity: PROBES bare TLS handshakes (connect, handshake, close) from a
     minimal client (asyncio, one process per core, CONCURRENCY at once);
  2. mailprobe --format ndjson over PROBES endpoint probes (the same endpoint,
     --allow-duplicates --per-host 0) at --concurrency CONCURRENCY: wall time,
     and the ratio to (1) (target <= 1.5);
  3. memory per probe in flight: the server holds each greeting 2 s so that
     CONCURRENCY probes are in flight at once; (peak RSS - peak RSS of one
     probe) / CONCURRENCY (target <= 128 KiB);
  4. the first NDJSON line: written within how many ms of its endpoint
     finishing (the server notes when it closed the connection; target <= 50).
Only 127.0.0.1 is contacted.
"""
import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))


def make_cert(d):
    key, crt = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
    kind = (["-newkey", "rsa:2048"] if os.environ.get("BENCH_RSA") else
            ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
    subprocess.run(["openssl", "req", "-x509"] + kind + [
                    "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=bench.test"], check=True,
                   capture_output=True)
    return crt, key


def server_proc(sock, crt, key, hold, closes):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)

    async def conn(reader, writer):
        try:
            await asyncio.sleep(hold)
            writer.write(b"220 bench.test ESMTP\r\n")
            while True:
                line = await asyncio.wait_for(reader.readline(), 20)
                if not line:
                    break
                w = line.split(b" ")[0].strip().upper()
                if w in (b"EHLO", b"HELO"):
                    writer.write(b"250-bench.test\r\n250 8BITMIME\r\n")
                elif w == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(b"502 no\r\n")
        except Exception:
            pass
        finally:
            writer.close()
            if closes is not None:
                closes.put(time.time())

    async def main():
        srv = await asyncio.start_server(conn, sock=sock, ssl=ctx, backlog=4096)
        async with srv:
            await srv.serve_forever()
    asyncio.run(main())


def start_server(crt, key, hold, cores, closes=None):
    port = 0
    socks, procs = [], []
    for _ in range(cores):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("127.0.0.1", port))
        s.listen(4096)
        port = s.getsockname()[1]
        socks.append(s)
    for s in socks:
        p = multiprocessing.Process(target=server_proc, args=(s, crt, key, hold, closes),
                                    daemon=True)
        p.start()
        procs.append(p)
    return port, procs


def client_proc(port, n, conc, out):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    async def one(sem):
        async with sem:
            r, w = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
            w.close()

    async def main():
        sem = asyncio.Semaphore(conc)
        await asyncio.gather(*(one(sem) for _ in range(n)))
    t0 = time.monotonic()
    asyncio.run(main())
    out.put(time.monotonic() - t0)


def handshakes(port, n, conc, cores):
    q = multiprocessing.Queue()
    t0 = time.monotonic()
    ps = [multiprocessing.Process(target=client_proc, args=(port, n // cores, conc // cores, q))
          for _ in range(cores)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(600)
    return time.monotonic() - t0


def mailprobe(binary, port, n, conc, deadline_ms=600000):
    urls = ["smtps://127.0.0.1:%d" % port]
    tf = tempfile.NamedTemporaryFile("w", delete=False)
    tf.write("\n".join(urls * n) + "\n")
    tf.close()
    args = ["/usr/bin/time", "-f", "%M", binary, "-i", tf.name, "--format", "ndjson",
            "--allow-duplicates", "--per-host", "0", "--concurrency", str(conc),
            "--deadline", str(deadline_ms), "--greeting-timeout", "10000",
            "--tls-timeout", "20000", "--connect-timeout", "20000", "--timeout", "20000"]
    # BENCH_CAFILE=FILE: verify against FILE instead of the system store
    # ("self": the server's own certificate, so that every chain verifies)
    if os.environ.get("BENCH_CAFILE"):
        args += ["--cafile", os.environ["BENCH_CAFILE"]]
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.readline()
    first_at = time.time()
    rest = p.stdout.read()
    err = p.stderr.read().decode(errors="replace")
    p.wait()
    wall = time.monotonic() - t0
    os.unlink(tf.name)
    lines = [first] + rest.splitlines()
    summ = json.loads(lines[-1])
    rss = int(err.strip().splitlines()[-1])
    return wall, summ, rss, first_at


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--probes", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=1000)
    a = ap.parse_args()
    binary = os.path.join(a.build, "mailprobe")
    cores = os.cpu_count() or 1
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    d = tempfile.mkdtemp()
    crt, key = make_cert(d)
    if os.environ.get("BENCH_CAFILE") == "self":
        os.environ["BENCH_CAFILE"] = crt
    n, conc = a.probes, a.concurrency

    port, procs = start_server(crt, key, 0.0, cores)
    time.sleep(0.5)
    base = handshakes(port, n, conc, cores)
    print("capacity: %d bare TLS handshakes at %d at once: %.2f s (%.0f/s)" % (n, conc, base, n / base))
    wall, summ, rss_full, _ = mailprobe(binary, port, n, conc)
    ok = summ["by_status"].get("ok", 0)
    ratio = wall / base
    print("mailprobe: %d probes (%d ok) at --concurrency %d: %.2f s (%.0f/s), %.2fx the "
          "handshakes alone: %s (target <= 1.5x)" % (summ["total"], ok, conc, wall, n / wall,
                                                    ratio, "PASS" if ratio <= 1.5 else "MISS"))
    for p in procs:
        p.terminate()

    # memory: every probe held 2 s at the greeting, so conc are in flight at once
    closes = multiprocessing.Queue()
    port, procs = start_server(crt, key, 2.0, cores, closes)
    time.sleep(0.5)
    _, _, rss_one, _ = mailprobe(binary, port, 1, 1)
    time.sleep(0.5)
    started = time.time()
    wall, summ, rss_many, first_at = mailprobe(binary, port, conc, conc)
    times = []
    while len(times) < conc:
        try:
            times.append(closes.get(timeout=5))
        except Exception:
            break
    first_close = min(t for t in times if t >= started)
    per = (rss_many - rss_one) / conc
    print("memory: 1 probe %d KiB peak; %d in flight %d KiB peak: %.0f KiB per probe in "
          "flight: %s (target <= 128 KiB); %d probes at full speed peaked at %d KiB"
          % (rss_one, conc, rss_many, per, "PASS" if per <= 128 else "MISS", n, rss_full))
    lat = (first_at - first_close) * 1000
    print("ndjson: first line %.1f ms after its endpoint's connection closed: %s "
          "(target <= 50 ms)" % (lat, "PASS" if lat <= 50 else "MISS"))
    for p in procs:
        p.terminate()


if __name__ == "__main__":
    main()
