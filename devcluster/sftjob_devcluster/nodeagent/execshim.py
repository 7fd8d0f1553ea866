"""Runs inside a pod's private mount and UTS namespaces (started through `unshare`):
bind-mounts the pod's volumes, hosts file and termination-message file, sets the
hostname, then replaces itself with the container's command.

A pod with a network of its own (images.py) also gets a new network namespace: the shim
brings its loopback up and relays the API server's address in there to the agent's Unix
socket (`relay_api`), so in-cluster clients connect as on a real node.

It is started by path with `python -I -S`, so it must import only the standard library.
Usage: python -I -S execshim.py SPEC.json
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
import socket
import struct
import sys
import threading
from typing import Any

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
# statvfs f_flag bits that the kernel keeps locked on a bind remount; they must be repeated.
_LOCKED = {0x2: MS_NOSUID, 0x4: MS_NODEV, 0x8: MS_NOEXEC}
START_ERROR_EXIT = 128
PR_SET_PDEATHSIG = 1
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFREQ = "16sH22x"  # sizeof(struct ifreq) is 40 on 64-bit Linux


def readonly_remount_flags(statvfs_flags: int) -> int:
    flags = MS_BIND | MS_REMOUNT | MS_RDONLY
    for st_bit, ms_bit in _LOCKED.items():
        if statvfs_flags & st_bit:
            flags |= ms_bit
    return flags


def _mount(libc: Any, source: str | None, target: str, flags: int) -> None:
    if libc.mount(source.encode() if source else None, target.encode(), None, flags, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source or '(remount)'} on {target}: {os.strerror(err)}")


def _prepare_target(source: str, target: str) -> None:
    if not os.path.exists(source):
        os.makedirs(source, exist_ok=True)
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    elif not os.path.exists(target):
        os.makedirs(os.path.dirname(target) or "/", exist_ok=True)
        with open(target, "a"):
            pass


def loopback_up() -> None:
    """`ip link set lo up`, without needing the ip command."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack(IFREQ, b"lo", 0)  # struct ifreq: name, then ifr_flags
        flags = struct.unpack(IFREQ, fcntl.ioctl(s, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP))


def pump(a: socket.socket, b: socket.socket) -> None:
    """Copy both ways between two connected sockets until both sides are done."""

    def one_way(src: socket.socket, dst: socket.socket) -> None:
        how = socket.SHUT_WR  # end of stream: pass the half-close on
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            how = socket.SHUT_RDWR  # a reset: end both directions
        with contextlib.suppress(OSError):
            dst.shutdown(how)

    other = threading.Thread(target=one_way, args=(b, a), daemon=True)
    other.start()
    one_way(a, b)
    other.join()
    a.close()
    b.close()


def relay_api(port: int, unix_path: str, libc: Any) -> None:
    """Fork a relay: 127.0.0.1:<port> in this network namespace -> the agent's socket."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    if os.fork() != 0:
        listener.close()
        return
    # The relay lives as long as the container's main process (its parent after exec):
    # a SIGTERM to the container's group must leave it up, so that the process can still
    # reach the API server while it shuts down (e.g. to release a Lease).
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        while True:
            conn, _ = listener.accept()
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(unix_path)
            except OSError:
                conn.close()
                upstream.close()
                continue
            threading.Thread(target=pump, args=(conn, upstream), daemon=True).start()
    finally:
        os._exit(0)


def setup(spec: dict[str, Any]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    # If the agent dies (even by SIGKILL), the container's main process dies with it;
    # an agent started later kills what is left of its process group.
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if spec.get("apiRelay"):
        loopback_up()
        relay_api(int(spec["apiRelay"]["port"]), spec["apiRelay"]["socket"], libc)
    for mount in spec.get("mounts", []):
        source, target = mount["source"], mount["target"]
        _prepare_target(source, target)
        _mount(libc, source, target, MS_BIND | MS_REC)
        if mount.get("readOnly"):
            _mount(libc, None, target, readonly_remount_flags(os.statvfs(target).f_flag))
    if spec.get("hostname"):
        socket.sethostname(spec["hostname"])
    cwd = spec.get("cwd") or "/"
    os.makedirs(cwd, exist_ok=True)
    os.chdir(cwd)


def main(argv: list[str]) -> int:
    with open(argv[1]) as f:
        spec = json.load(f)
    try:
        setup(spec)
        os.execvpe(spec["argv"][0], spec["argv"], spec["env"])
    except OSError as err:
        message = f"failed to start {spec['argv'][0]!r}: {err}"
        print(message, file=sys.stderr, flush=True)
        if spec.get("startErrorFile"):
            with open(spec["startErrorFile"], "w") as f:
                f.write(message)
    return START_ERROR_EXIT


if __name__ == "__main__":
    sys.exit(main(sys.argv))
