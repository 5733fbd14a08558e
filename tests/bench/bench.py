#!/usr/bin/python3
"""Speed benchmark for mailprobe against real Postfix and Dovecot on loopback.

Prints figures; run by hand, not as a timed test:
    tests/bench/bench.py [--build DIR] [--runs N]

It starts private servers (tests/integration/servers.sh, port base 30000 so it
does not collide with a running test suite), then measures:
  1. each endpoint of a 7-endpoint matrix probed alone (median of N runs);
  2. the floor: max(slowest alone, sum alone / cores);
  3. the full matrix in one run (median), and its ratio to the floor (target <= 1.3);
  4. the matrix plus one silent endpoint with --greeting-timeout 500
     (target: whole run <= 2 x 500 + 250 ms);
  5. the full matrix through one SOCKS5 proxy (dante) against the direct run
     (target <= 1.5x);
  6. peak RSS of the full-matrix run;
  7. the full matrix with --enumerate-tls (5 versions per TLS endpoint, each on
     a fresh connection, run in parallel) against the plain run (target <= 2x);
  8. the full matrix with --checks all (the active checks, each on a fresh
     connection) against the plain run, interleaved (target <= 1.5x).
  9. --enumerate-tls of the full matrix against its own floor: max(slowest
     endpoint's enumeration alone, sum of them alone / cores), each round
     interleaving the endpoints alone and the matrix (target <= 1.3x).
    tests/bench/bench.py --checks-only   measures 8 alone.
    tests/bench/bench.py --enum-only     measures 9 alone.
    --load N runs N busy-looping processes meanwhile (a loaded machine).
Only 127.0.0.1 is contacted.
"""
import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
BASE = 30000


def run(binary, args, want_json=True):
    """Runs mailprobe once; returns (wall ms, report dict, peak rss kB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.monotonic()
    p = subprocess.run([binary] + args + (["--format", "json"] if want_json else []),
                       capture_output=True, timeout=60)
    wall = (time.monotonic() - t0) * 1000
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if p.returncode not in (0, 2):
        sys.exit(f"mailprobe failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
    rep = json.loads(p.stdout) if want_json else None
    return wall, rep, max(rss, before)


def silent_listener():
    """A loopback port that accepts and never speaks; returns (port, stop)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    held, done = [], threading.Event()

    def loop():
        deadline = time.monotonic() + 600
        while not done.is_set() and time.monotonic() < deadline:
            try:
                c, _ = srv.accept()
                held.append(c)
            except socket.timeout:
                pass
        for c in held:
            c.close()
        srv.close()

    threading.Thread(target=loop, daemon=True).start()
    return srv.getsockname()[1], done.set


def measure_checks(binary, common, eps, runs):
    """Medians (ms) of the full matrix with --checks all and without,
    interleaved so that both see the same machine; 3x the runs."""
    with_checks, plain = [], []
    for _ in range(3 * runs):
        w, rep, _ = run(binary, common + eps)
        plain.append(w)
        w, rep, _ = run(binary, common + ["--checks", "all"] + eps)
        assert all(len(r["checks"]) == 4 for r in rep["results"]), rep["summary"]
        assert not any(c["state"] in ("fail", "inconclusive") for r in rep["results"]
                       for c in r["checks"]), [r["checks"] for r in rep["results"]]
        with_checks.append(w)
    return statistics.median(with_checks), statistics.median(plain)


def measure_enum(binary, common, eps, runs):
    """--enumerate-tls: (matrix median, floor, slowest alone, sum alone)
    in ms, each round interleaving every endpoint alone and the matrix."""
    alone = {ep: [] for ep in eps}
    matrix = []
    for _ in range(runs):
        for ep in eps:
            w, rep, _ = run(binary, common + ["--enumerate-tls", ep])
            assert rep["results"][0]["tls_versions"], rep["results"][0]
            alone[ep].append(w)
        w, rep, _ = run(binary, common + ["--enumerate-tls"] + eps)
        assert all(r["status"] == "ok" and r["tls_versions"] for r in rep["results"]), \
            rep["summary"]
        matrix.append(w)
    med = {ep: statistics.median(t) for ep, t in alone.items()}
    cores = os.cpu_count() or 1
    slowest, total = max(med.values()), sum(med.values())
    return statistics.median(matrix), max(slowest, total / cores), slowest, total


def busy_load(n):
    """n processes that spin for at most 600 s; returns their Popen objects."""
    code = "import time\nt = time.monotonic() + 600\nwhile time.monotonic() < t: pass\n"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--checks-only", action="store_true",
                    help="measure --checks all against the plain run, nothing else")
    ap.add_argument("--enum-only", action="store_true",
                    help="measure --enumerate-tls against its floor, nothing else")
    ap.add_argument("--load", type=int, default=0,
                    help="N busy-looping processes during the measurements")
    a = ap.parse_args()
    binary = os.path.join(a.build, "mailprobe")
    if not os.access(binary, os.X_OK):
        sys.exit(f"no binary at {binary}: build first (cmake -S . -B build && cmake --build build)")
    work = tempfile.mkdtemp(prefix="mailprobe-bench.")
    env = dict(os.environ, MP_ITEST_PORT_BASE=str(BASE))
    servers = os.path.join(SRC, "tests", "integration", "servers.sh")
    subprocess.run(["bash", servers, "start", work], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    load = []
    try:
        ca = os.path.join(work, "ca", "ca.pem")
        h = "127.0.0.1"
        eps = [f"smtp+starttls://{h}:{BASE + 25}", f"smtp+starttls://{h}:{BASE + 587}",
               f"smtps://{h}:{BASE + 465}", f"imap+starttls://{h}:{BASE + 143}",
               f"imaps://{h}:{BASE + 993}", f"pop3+starttls://{h}:{BASE + 110}",
               f"pop3s://{h}:{BASE + 995}"]
        common = ["--cafile", ca]
        # warm-up (servers spawn their first processes)
        run(binary, common + eps)
        load = busy_load(a.load)
        loaded = f", {a.load} busy-looping processes" if a.load else ""
        enum_m, enum_floor, enum_slow, enum_sum = (
            measure_enum(binary, common, eps, a.runs) if not a.checks_only else (0, 1, 0, 0))
        enum_line = (f"  --enumerate-tls, full matrix  {enum_m:7.1f} ms  = "
                     f"{enum_m / enum_floor:.2f} x its floor {enum_floor:.1f} ms (slowest alone "
                     f"{enum_slow:.1f}, sum alone {enum_sum:.1f}) (target <= 1.30) "
                     f"{'PASS' if enum_m <= 1.3 * enum_floor else 'MISS'}")
        if a.enum_only:
            print(f"mailprobe benchmark: {len(eps)} endpoints on loopback, "
                  f"{os.cpu_count() or 1} cores{loaded}, median of {a.runs} interleaved rounds")
            print(enum_line)
            return
        checks_med, checks_plain_med = measure_checks(binary, common, eps, a.runs)
        checks_line = (f"  --checks all, full matrix     {checks_med:7.1f} ms  = "
                       f"{checks_med / checks_plain_med:.2f} x the plain run "
                       f"{checks_plain_med:.1f} ms (target <= 1.50) "
                       f"{'PASS' if checks_med <= 1.5 * checks_plain_med else 'MISS'}")
        if a.checks_only:
            print(f"mailprobe benchmark: {len(eps)} endpoints on loopback, "
                  f"{os.cpu_count() or 1} cores{loaded}, median of {3 * a.runs} interleaved runs")
            print(checks_line)
            return
        alone = {}
        for ep in eps:
            times = []
            for _ in range(a.runs):
                w, rep, _ = run(binary, common + [ep])
                assert rep["results"][0]["status"] == "ok", rep["results"][0]
                times.append(w)
            alone[ep] = statistics.median(times)
        cores = os.cpu_count() or 1
        slowest = max(alone.values())
        floor = max(slowest, sum(alone.values()) / cores)
        full, peak = [], 0
        for _ in range(a.runs):
            w, rep, rss = run(binary, common + eps)
            assert all(r["status"] == "ok" for r in rep["results"]), rep["summary"]
            full.append(w)
            peak = max(peak, rss)
        full_med = statistics.median(full)
        enum = []
        for _ in range(a.runs):
            w, rep, _ = run(binary, common + ["--enumerate-tls"] + eps)
            assert all(r["status"] == "ok" and r["tls_versions"] for r in rep["results"]), \
                rep["summary"]
            enum.append(w)
        enum_med = statistics.median(enum)
        # every output format from one run (with a policy, so verdicts are
        # written too) against the plain JSON run, interleaved so that both
        # see the same machine; 3x the runs, as the difference is small
        outdir = os.path.join(work, "outputs")
        os.makedirs(outdir, exist_ok=True)
        outs = ["--require-tls", "--min-tls", "1.2", "--require-verified", "--warn-ms", "5000"]
        for fmt, name in (("nagios", "n.txt"), ("junit", "j.xml"), ("prometheus", "m.prom"),
                          ("table", "t.txt"), ("html", "r.html")):
            outs += ["-o", f"{fmt}:{os.path.join(outdir, name)}"]
        plain_runs, all_runs = [], []
        for _ in range(3 * a.runs):
            w, rep, _ = run(binary, common + eps)
            plain_runs.append(w)
            w, rep, _ = run(binary, common + outs + eps)
            assert rep["summary"]["state"] == "OK", rep["verdicts"]
            all_runs.append(w)
        plain_med, all_med = statistics.median(plain_runs), statistics.median(all_runs)
        proxies = os.path.join(SRC, "tests", "integration", "proxies.sh")
        pxdir = os.path.join(work, "proxies")
        subprocess.run(["bash", proxies, "start", pxdir], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        try:
            penv = {}
            with open(os.path.join(pxdir, "proxies.env")) as f:
                for line in f:
                    k, _, v = line.strip().partition("=")
                    penv[k] = v
            proxy = f"socks5://127.0.0.1:{penv['MP_PX_DANTE_PORT']}"
            proxied = []
            for _ in range(a.runs):
                w, rep, _ = run(binary, common + ["--proxy", proxy] + eps)
                assert all(r["status"] == "ok" and r["proxy"] for r in rep["results"]), \
                    rep["summary"]
                proxied.append(w)
            proxied_med = statistics.median(proxied)
        finally:
            subprocess.run(["bash", proxies, "stop", pxdir], env=env, stdout=subprocess.DEVNULL)
        port, stop = silent_listener()
        silent = []
        for _ in range(a.runs):
            w, rep, _ = run(binary, common + ["--greeting-timeout", "500"] + eps +
                            [f"smtp+starttls://{h}:{port}"])
            assert rep["results"][-1]["status"] == "greeting_timeout", rep["results"][-1]
            silent.append(w)
        stop()
        silent_max = max(silent)

        print(f"mailprobe benchmark: {len(eps)} endpoints on loopback, {cores} cores{loaded}, "
              f"median of {a.runs} runs (wall clock of the whole process)")
        for ep, t in alone.items():
            print(f"  alone  {ep:40s} {t:7.1f} ms")
        print(f"  slowest alone                 {slowest:7.1f} ms")
        print(f"  sum alone / cores             {sum(alone.values()) / cores:7.1f} ms")
        print(f"  floor                         {floor:7.1f} ms")
        print(f"  full matrix, one run          {full_med:7.1f} ms  = {full_med / floor:.2f} x floor "
              f"(target <= 1.30) {'PASS' if full_med <= 1.3 * floor else 'MISS'}")
        print(f"  full matrix via SOCKS5 (dante) {proxied_med:7.1f} ms  = {proxied_med / full_med:.2f} x "
              f"direct (target <= 1.50) {'PASS' if proxied_med <= 1.5 * full_med else 'MISS'}")
        print(f"  + silent endpoint, greeting-timeout 500: worst {silent_max:7.1f} ms "
              f"(target <= 1250) {'PASS' if silent_max <= 1250 else 'MISS'}")
        print(f"  peak RSS of a full-matrix run {peak} kB")
        print(f"  --enumerate-tls, full matrix  {enum_med:7.1f} ms  = {enum_med / full_med:.2f} x "
              f"the plain run (target <= 2.00) {'PASS' if enum_med <= 2 * full_med else 'MISS'}")
        print(f"  all six formats + policy      {all_med:7.1f} ms  = {all_med / plain_med:.3f} x "
              f"json alone {plain_med:.1f} ms (target <= 1.05) "
              f"{'PASS' if all_med <= 1.05 * plain_med else 'MISS'}")
        print(enum_line)
        print(checks_line)
    finally:
        for pr in load:
            pr.kill()
            pr.wait()
        subprocess.run(["bash", servers, "stop", work], env=env, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
