#!/usr/bin/python3
"""Benchmark of "mailprobe serve" against real Postfix and Dovecot on loopback.

Prints figures; run by hand, not as a timed test:
    tests/bench/bench_serve.py [--build DIR] [--runs N] [--levels 50,200,500]

Run it inside a network namespace of its own (it binds loopback ports):
    unshare -n bash -c 'ip link set lo up; tests/bench/bench_serve.py'

It starts private servers (tests/integration/servers.sh, on free ports it
picks itself), the exporter with its DEFAULT settings and blackbox_exporter 0.23
(Debian prometheus-blackbox-exporter, installed with apt-get when missing,
without starting its system service), then measures:
  1. one scrape of the 7-endpoint matrix (/probe with seven targets) against the
     command line's run of the same matrix (--format prometheus), median of N,
     interleaved (target: scrape <= 1.2 x command line);
  2. the exporter's RSS (VmRSS) idle after start and idle after the load
     (target < 10 MiB);
  3. 50, 200 and 500 concurrent scrapes of one endpoint (smtps) with a 10 s
     scrape timeout (X-Prometheus-Scrape-Timeout-Seconds: 10), through the
     exporter and through blackbox_exporter: answers by status (target: every
     one 200), latency percentiles, peak RSS (VmHWM);
  4. each endpoint scraped alone through the exporter and through
     blackbox_exporter's own STARTTLS / TLS tcp modules (query_response), and
     the seven endpoints as seven concurrent blackbox scrapes.
Only 127.0.0.1 is contacted; every process started here is stopped by PID.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import serve_clients  # noqa: E402  (freeport, get)

H = "127.0.0.1"
BLACKBOX = "/usr/bin/prometheus-blackbox-exporter"
RSS_TARGET_KB = 10 * 1024
START_WAIT_S = 20


def wait_http(port, path, proc, what):
    end = time.monotonic() + START_WAIT_S
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit(f"{what} exited at start ({proc.returncode})")
        try:
            if serve_clients.get(H, port, path, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"{what} did not answer {path} within {START_WAIT_S} s")


def stop(proc):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def samples(text, name):
    """Values of the samples of one metric family in exposition text."""
    out = []
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            out.append(float(line.rsplit(" ", 1)[1]))
    return out


SCRAPE_HEADERS = {"X-Prometheus-Scrape-Timeout-Seconds": "10"}


def hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def timed_get(port, path):
    t0 = time.monotonic()
    code, _, body = serve_clients.get(H, port, path, headers=SCRAPE_HEADERS)
    return (time.monotonic() - t0) * 1000, code, body.decode(errors="replace")


def probe_path(targets, module):
    q = "&".join("target=" + urllib.parse.quote(t, safe=":/[]") for t in targets)
    return f"/probe?{q}&module={module}"


def install_blackbox():
    """apt-get install prometheus-blackbox-exporter, its service kept from starting."""
    if os.access(BLACKBOX, os.X_OK):
        return True
    if os.geteuid() != 0:
        print(f"  ({BLACKBOX} missing and not root: blackbox comparison skipped)")
        return False
    made = False
    if not os.path.exists("/usr/sbin/policy-rc.d"):
        with open("/usr/sbin/policy-rc.d", "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod("/usr/sbin/policy-rc.d", 0o755)
        made = True
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                        "prometheus-blackbox-exporter"], env=env, check=False,
                       stdout=subprocess.DEVNULL, timeout=600)
    finally:
        if made:
            os.unlink("/usr/sbin/policy-rc.d")
    return os.access(BLACKBOX, os.X_OK)


def blackbox_config(path, ca):
    """tcp modules: STARTTLS by query_response for each protocol, and implicit TLS."""
    tls = f"      tls_config:\n        ca_file: {ca}\n"

    def mod(name, steps, implicit):
        s = f"  {name}:\n    prober: tcp\n    timeout: 5s\n    tcp:\n"
        if implicit:
            s += "      tls: true\n"
        s += tls + "      query_response:\n"
        for k, v in steps:
            if k == "starttls":
                s += "        - starttls: true\n"
            else:
                s += f"        - {k}: {json.dumps(v)}\n"
        return s

    # "send" lines get "\n" appended by blackbox_exporter: end them in "\r".
    smtp_st = [("expect", "^220"), ("send", "EHLO prober.invalid\r"), ("expect", "^250 "),
               ("send", "STARTTLS\r"), ("expect", "^220"), ("starttls", True),
               ("send", "EHLO prober.invalid\r"), ("expect", "^250 "), ("send", "QUIT\r")]
    imap_st = [("expect", "^\\* OK"), ("send", "a1 STARTTLS\r"), ("expect", "^a1 OK"),
               ("starttls", True), ("send", "a2 CAPABILITY\r"), ("expect", "^a2 OK"),
               ("send", "a3 LOGOUT\r")]
    pop3_st = [("expect", "^\\+OK"), ("send", "STLS\r"), ("expect", "^\\+OK"),
               ("starttls", True), ("send", "CAPA\r"), ("expect", "^\\.\r?$"),
               ("send", "QUIT\r")]
    smtps = [("expect", "^220"), ("send", "EHLO prober.invalid\r"), ("expect", "^250 "),
             ("send", "QUIT\r")]
    imaps = [("expect", "^\\* OK"), ("send", "a1 CAPABILITY\r"), ("expect", "^a1 OK"),
             ("send", "a2 LOGOUT\r")]
    pop3s = [("expect", "^\\+OK"), ("send", "CAPA\r"), ("expect", "^\\.\r?$"),
             ("send", "QUIT\r")]
    with open(path, "w") as f:
        f.write("modules:\n")
        f.write(mod("smtp_starttls", smtp_st, False))
        f.write(mod("imap_starttls", imap_st, False))
        f.write(mod("pop3_starttls", pop3_st, False))
        f.write(mod("smtps", smtps, True))
        f.write(mod("imaps", imaps, True))
        f.write(mod("pop3s", pop3s, True))


def start_exporter(binary, cfg, port, work, env=None):
    err = open(os.path.join(work, f"serve-{port}.err"), "w")
    p = subprocess.Popen([binary, "serve", "--listen", f"{H}:{port}", "--config", cfg],
                         stderr=err, env=env)
    wait_http(port, "/-/healthy", p, "mailprobe serve")
    return p


def failed_statuses(body, into):
    """Counts the status of every endpoint that did not probe ok."""
    for line in body.splitlines():
        if line.startswith("mailprobe_probe_status_info{") and 'status="ok"' not in line:
            st = line.split('status="', 1)[1].split('"', 1)[0]
            into[st] = into.get(st, 0) + 1


def concurrent(port, path, n, statuses=None):
    """n scrapes released together: (codes, failed endpoints, wall ms, per-scrape ms)."""
    barrier = threading.Barrier(n)
    res, lock = [], threading.Lock()

    def one():
        try:
            barrier.wait(30)
            ms, code, body = timed_get(port, path)
            failed = (samples(body, "mailprobe_probe_success") +
                      samples(body, "probe_success")).count(0.0) if code == 200 else 0
            with lock:
                res.append((code, failed, ms))
                if statuses is not None:
                    failed_statuses(body, statuses)
        except Exception as e:  # noqa: BLE001 - counted as no answer
            with lock:
                res.append((f"error {type(e).__name__}", 0, 0.0))

    t0 = time.monotonic()
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    wall = (time.monotonic() - t0) * 1000
    codes = {}
    for c, _, _ in res:
        codes[c] = codes.get(c, 0) + 1
    return codes, sum(f for _, f, _ in res), wall, [m for _, _, m in res if m]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--levels", default="50,200,500",
                    help="concurrent scrapes of one endpoint, comma-separated")
    a = ap.parse_args()
    levels = [int(x) for x in a.levels.split(",") if x]
    binary = os.path.join(a.build, "mailprobe")
    if not os.access(binary, os.X_OK):
        sys.exit(f"no binary at {binary}: build first (cmake -S . -B build && cmake --build build)")
    have_blackbox = install_blackbox()
    work = tempfile.mkdtemp(prefix="mailprobe-bench-serve.")
    servers = os.path.join(SRC, "tests", "integration", "servers.sh")
    env = {k: v for k, v in os.environ.items() if k != "MP_ITEST_PORT_BASE"}
    subprocess.run(["bash", servers, "start", work], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    procs = []
    try:
        senv = {}
        with open(os.path.join(work, "servers.env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                if k and not k.startswith("#"):
                    senv[k] = v
        ca = senv["MP_CA"]
        eps = [
            ("smtp+starttls", senv["MP_SMTP_PORT"], "smtp_starttls"),
            ("smtp+starttls", senv["MP_SUBMISSION_PORT"], "smtp_starttls"),
            ("smtps", senv["MP_SMTPS_PORT"], "smtps"),
            ("imap+starttls", senv["MP_IMAP_PORT"], "imap_starttls"),
            ("imaps", senv["MP_IMAPS_PORT"], "imaps"),
            ("pop3+starttls", senv["MP_POP3_PORT"], "pop3_starttls"),
            ("pop3s", senv["MP_POP3S_PORT"], "pop3s"),
        ]
        urls = [f"{s}://{H}:{p}" for s, p, _ in eps]
        cfg = os.path.join(work, "serve.json")
        with open(cfg, "w") as f:
            json.dump({"allow": [H], "modules": {"matrix": {"cafile": ca}}}, f)
        port = serve_clients.freeport()
        exp = start_exporter(binary, cfg, port, work)
        procs.append(exp)
        time.sleep(0.5)
        rss_start = rss_kb(exp.pid)
        matrix = probe_path(urls, "matrix")
        cli = [binary, "--format", "prometheus", "--cafile", ca] + urls

        # warm-up: the servers spawn their first processes
        for _ in range(2):
            timed_get(port, matrix)
            subprocess.run(cli, stdout=subprocess.DEVNULL, timeout=60)
        scrape, cmdline = [], []
        for _ in range(a.runs):
            ms, code, body = timed_get(port, matrix)
            ok = samples(body, "mailprobe_probe_success")
            if code != 200 or ok != [1.0] * 7:
                sys.exit(f"matrix scrape: HTTP {code}, probe_success {ok}")
            scrape.append(ms)
            t0 = time.monotonic()
            p = subprocess.run(cli, capture_output=True, timeout=60)
            cmdline.append((time.monotonic() - t0) * 1000)
            if p.returncode != 0:
                sys.exit(f"command line run failed ({p.returncode}): {p.stderr[:500]!r}")
        scrape_med, cli_med = statistics.median(scrape), statistics.median(cmdline)

        # each endpoint alone through the exporter
        alone = {}
        for u in urls:
            t = []
            for _ in range(a.runs):
                ms, code, body = timed_get(port, probe_path([u], "matrix"))
                assert code == 200 and samples(body, "mailprobe_probe_success") == [1.0], body[:300]
                t.append(ms)
            alone[u] = statistics.median(t)

        one_path = probe_path([f"smtps://{H}:{senv['MP_SMTPS_PORT']}"], "matrix")
        burst = {}
        for n in levels:
            statuses = {}
            burst[n] = concurrent(port, one_path, n, statuses) + (statuses, hwm_kb(exp.pid))
            time.sleep(1.0)
        rss_after = rss_kb(exp.pid)
        stop(exp)
        procs.remove(exp)

        bb = {}
        bb_burst = {}
        bb_par = None
        bb_version = ""
        if have_blackbox:
            bb_version = subprocess.run([BLACKBOX, "--version"], capture_output=True,
                                        text=True).stdout.split("\n")[0] or \
                subprocess.run([BLACKBOX, "--version"], capture_output=True,
                               text=True).stderr.split("\n")[0]
            bdir = os.path.join(work, "blackbox")
            os.makedirs(bdir)
            bcfg = os.path.join(bdir, "blackbox.yml")
            blackbox_config(bcfg, ca)
            bport = serve_clients.freeport()
            berr = open(os.path.join(bdir, "blackbox.log"), "w")
            bproc = subprocess.Popen([BLACKBOX, f"--config.file={bcfg}",
                                      f"--web.listen-address={H}:{bport}"],
                                     cwd=bdir, stdout=berr, stderr=berr)
            procs.append(bproc)
            wait_http(bport, "/-/healthy", bproc, "blackbox_exporter")

            def bb_path(p, mod):
                return f"/probe?target={H}:{p}&module={mod}"

            for (_, p, mod), u in zip(eps, urls):
                t = []
                timed_get(bport, bb_path(p, mod))
                for _ in range(a.runs):
                    ms, code, body = timed_get(bport, bb_path(p, mod))
                    ok = samples(body, "probe_success")
                    if code != 200 or ok != [1.0]:
                        sys.exit(f"blackbox {mod} {u}: HTTP {code}, probe_success {ok} "
                                 f"(see {bdir}/blackbox.log)\n{body[:1500]}")
                    t.append(ms)
                bb[u] = statistics.median(t)
            par = []
            for _ in range(a.runs):
                res = [None] * len(eps)

                def one(i, p, mod):
                    res[i] = timed_get(bport, bb_path(p, mod))[1]

                t0 = time.monotonic()
                ts = [threading.Thread(target=one, args=(i, p, mod))
                      for i, (_, p, mod) in enumerate(eps)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join(30)
                par.append((time.monotonic() - t0) * 1000)
                assert res == [200] * len(eps), res
            bb_par = statistics.median(par)
            for n in levels:
                bb_burst[n] = concurrent(bport, bb_path(senv["MP_SMTPS_PORT"], "smtps"), n) + \
                    ({}, hwm_kb(bproc.pid))
                time.sleep(1.0)
            stop(bproc)
            procs.remove(bproc)

        cores = os.cpu_count() or 1
        ratio = scrape_med / cli_med

        def verdict(ok):
            return "PASS" if ok else "MISS"

        print(f"mailprobe serve benchmark: 7 endpoints on loopback, {cores} cores, "
              f"median of {a.runs} runs (wall clock)")
        print(f"  matrix scrape (/probe, 7 targets)  {scrape_med:7.1f} ms")
        print(f"  command line, same matrix          {cli_med:7.1f} ms")
        print(f"  scrape / command line              {ratio:7.2f} x (target <= 1.20) "
              f"{verdict(ratio <= 1.2)}")
        print(f"  idle RSS after start               {rss_start / 1024:7.1f} MiB (target < 10) "
              f"{verdict(rss_start < RSS_TARGET_KB)}")
        print(f"  idle RSS after the load            {rss_after / 1024:7.1f} MiB (target < 10) "
              f"{verdict(rss_after < RSS_TARGET_KB)}")
        def pct(xs, q):
            xs = sorted(xs)
            return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else 0.0

        print("  concurrent scrapes of one endpoint (smtps), scrape timeout 10 s:")
        for name, table in (("mailprobe serve (defaults)", burst),
                            ("blackbox_exporter", bb_burst)):
            for n in levels:
                if n not in table:
                    continue
                codes, failed, wall, each, statuses, hwm = table[n]
                all200 = codes.get(200, 0) == n
                print(f"    {name:27s} {n:4d}: answers "
                      f"{dict(sorted(codes.items(), key=str))} {verdict(all200)}, "
                      f"p50 {pct(each, 0.5):6.1f} p90 {pct(each, 0.9):6.1f} "
                      f"p99 {pct(each, 0.99):6.1f} max {pct(each, 1.0):6.1f} ms, "
                      f"wall {wall:6.0f} ms, peak RSS {hwm / 1024:5.1f} MiB, "
                      f"probe failures {failed}" + (f" {statuses}" if statuses else ""))
        print(f"  one endpoint per scrape            mailprobe serve   blackbox_exporter "
              f"{bb_version.strip()}")
        for u in urls:
            b = f"{bb[u]:7.1f} ms" if u in bb else "      -"
            print(f"    {u:38s} {alone[u]:7.1f} ms        {b}")
        if bb_par is not None:
            print(f"  7 endpoints: one mailprobe scrape {scrape_med:7.1f} ms; seven concurrent "
                  f"blackbox scrapes {bb_par:7.1f} ms")
    finally:
        for p in procs:
            stop(p)
        subprocess.run(["bash", servers, "stop", work], env=env, stdout=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
