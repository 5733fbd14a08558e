#!/usr/bin/env python3
"""ptyrun.py COLS -- COMMAND...: runs COMMAND with its standard output (and
input) on a new pseudo-terminal of COLS columns and 24 rows, and copies what
it wrote to our standard output; exits with its exit code. Bounded: the
command is killed after 60 s."""
import fcntl, os, struct, subprocess, sys, termios, time

cols = int(sys.argv[1])
assert sys.argv[2] == "--"
cmd = sys.argv[3:]
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
# no translation of \n into \r\n, so the bytes read are the bytes written
attrs = termios.tcgetattr(slave)
attrs[1] &= ~termios.OPOST
termios.tcsetattr(slave, termios.TCSANOW, attrs)
proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=subprocess.DEVNULL, close_fds=True)
os.close(slave)
out = bytearray()
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: every writer closed the terminal
        break
    if not chunk:
        break
    out += chunk
if proc.poll() is None and time.monotonic() >= deadline:
    proc.kill()
rc = proc.wait()
sys.stdout.buffer.write(out)
sys.exit(rc)
