# SPDX-License-Identifier: LGPL-2.1-or-later
# notify-listen.py: a test NOTIFY_SOCKET: logs every sd_notify line with a monotonic timestamp.
# Usage: python3 notify-listen.py SOCKET LOGFILE [MAX_SECONDS]
import socket
import sys
import time

path, log = sys.argv[1], sys.argv[2]
limit = float(sys.argv[3]) if len(sys.argv) > 3 else 300.0
end = time.monotonic() + limit
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(log, "a", buffering=1) as f:
    while time.monotonic() < end:
        s.settimeout(max(0.1, end - time.monotonic()))
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        for line in data.decode(errors="replace").splitlines():
            f.write(f"{time.monotonic():.3f} {line}\n")
