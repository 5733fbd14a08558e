#!/usr/bin/env python3
"""Loopback listeners and free ports on both address families, for the test servers.

A name such as "localhost" resolves to ::1 first on a standard Debian machine
(/etc/hosts maps it to both 127.0.0.1 and ::1), so every test server listens
on the same port on 127.0.0.1 and on ::1 when the machine has IPv6 loopback.

As a module (tests/fake/*.py import it):
    hosts()                          the loopback addresses usable here
    listen_same_port(hosts, backlog) one listening socket per address, one port

As a command (the shell scripts of tests/integration):
    loopback.py ipv6                 exit 0 when ::1 can be bound, 1 when not
    loopback.py free-ports N         N ports, each free on every usable loopback
                                     address (bound and released at once)
"""

import errno
import socket
import sys

V4, V6 = "127.0.0.1", "::1"
BIND_TRIES = 50            # ports tried before giving up on a common free one


def has_ipv6():
    """True when a socket can be bound on ::1 (IPv6 may be off in a container)."""
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        return False
    try:
        s.bind((V6, 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


def hosts():
    """127.0.0.1, and ::1 when the machine has it."""
    return [V4, V6] if has_ipv6() else [V4]


def _bind(host, port, reuse):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        if reuse:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((host, port))
    except OSError:
        s.close()
        raise
    return s


def bind_same_port(addrs, reuse=False):
    """Bound (not listening) sockets, one per address, all on one free port;
    reuse sets SO_REUSEADDR (for listeners; never for ports held to be free)."""
    for _ in range(BIND_TRIES):
        socks = []
        try:
            for h in addrs:
                socks.append(_bind(h, socks[0].getsockname()[1] if socks else 0, reuse))
            return socks
        except OSError as e:
            for s in socks:
                s.close()
            if e.errno != errno.EADDRINUSE:
                raise
    raise OSError(errno.EADDRINUSE, "no port free on all of %s in %d tries"
                  % (", ".join(addrs), BIND_TRIES))


def listen_same_port(addrs, backlog):
    """Listening sockets, one per address, all on one port."""
    socks = bind_same_port(addrs, reuse=True)
    for s in socks:
        s.listen(backlog)
    return socks


def main(argv):
    if len(argv) == 2 and argv[1] == "ipv6":
        return 0 if has_ipv6() else 1
    if len(argv) == 3 and argv[1] == "free-ports" and argv[2].isdigit():
        addrs = hosts()
        held = [bind_same_port(addrs) for _ in range(int(argv[2]))]
        print(" ".join(str(g[0].getsockname()[1]) for g in held))
        for g in held:
            for s in g:
                s.close()
        return 0
    sys.stderr.write("usage: loopback.py ipv6 | free-ports N\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
