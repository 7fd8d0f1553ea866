"""The agent's process runner: a private mount+UTS namespace per container (needs root)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest
from sftjob_devcluster.nodeagent.runner import ContainerProcess, ExecSpec, stop_all
from sftjob_devcluster.nodeagent.volumes import BindMount

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="the node agent's runner needs root and unshare",
)


def start(
    tmp_path: Path, script: str, mounts: list[BindMount], name: str = "c"
) -> ContainerProcess:
    spec = ExecSpec(
        argv=[sys.executable, "-c", script],
        env={"PATH": os.environ["PATH"], "GREETING": "hi"},
        cwd=str(tmp_path / "cwd"),
        hostname="job-0",
        mounts=mounts,
        start_error_file=str(tmp_path / f"{name}.start-error"),
    )
    return ContainerProcess.start(
        spec, tmp_path / f"{name}.json", tmp_path / f"{name}.log", tmp_path / "run" / f"{name}.pid"
    )


def wait(proc: ContainerProcess, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while (code := proc.poll()) is None:
        assert time.monotonic() < deadline, "process did not exit"
        time.sleep(0.05)
    return code


def test_mounts_hostname_hosts_and_env(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.txt").write_text("from volume")
    out = tmp_path / "out"
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 job-0.job peer-1.job\n")
    term = tmp_path / "term"
    term.write_text("")
    target = tmp_path / "mnt" / "ro"  # does not exist yet: the shim creates it
    script = f"""
import os, socket
print(open({str(target / "x.txt")!r}).read(), socket.gethostname(), os.environ['GREETING'])
print(socket.gethostbyname('peer-1.job'))
try:
    open({str(target / "new")!r}, 'w')
except OSError as e:
    print('readonly', e.errno)
open({str(tmp_path / "rw" / "w.txt")!r}, 'w').write('written')
open('/dev/termination-log', 'w').write('bye')
print(os.getcwd())
"""
    proc = start(
        tmp_path,
        script,
        [
            BindMount(str(hosts), "/etc/hosts", False),
            BindMount(str(term), "/dev/termination-log", False),
            BindMount(str(data), str(target), True),
            BindMount(str(out), str(tmp_path / "rw"), False),
        ],
    )
    assert wait(proc) == 0, (tmp_path / "c.log").read_text()
    lines = (tmp_path / "c.log").read_text().splitlines()
    assert lines[0] == "from volume job-0 hi"
    assert lines[1] == "127.0.0.1"
    assert lines[2] == "readonly 30"
    assert lines[3] == str(tmp_path / "cwd")
    assert (out / "w.txt").read_text() == "written"
    assert term.read_text() == "bye"
    # nothing leaked into the host's mount table or hostname
    assert str(target) not in Path("/proc/self/mountinfo").read_text()
    assert os.uname().nodename != "job-0"
    assert not (tmp_path / "run" / "c.pid").exists()


def test_exit_code_and_start_error(tmp_path: Path) -> None:
    assert wait(start(tmp_path, "import sys; sys.exit(7)", [], "a")) == 7
    spec = ExecSpec(
        argv=["no-such-program-xyz"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=str(tmp_path),
        hostname="h",
        mounts=[],
        start_error_file=str(tmp_path / "b.err"),
    )
    proc = ContainerProcess.start(spec, tmp_path / "b.json", tmp_path / "b.log", tmp_path / "b.pid")
    assert wait(proc) == 128
    assert "no-such-program-xyz" in (proc.start_error() or "")


def test_stop_all_kills_the_whole_group(tmp_path: Path) -> None:
    # The main process ignores SIGTERM and has a child: both must die.
    script = (
        "import signal, subprocess, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(tmp_path / 'child.tmp')!r}, 'w').write(str(child.pid))\n"
        f"import os; os.rename({str(tmp_path / 'child.tmp')!r}, {str(tmp_path / 'child.pid')!r})\n"
        "time.sleep(600)\n"
    )
    proc = start(tmp_path, script, [])
    deadline = time.monotonic() + 30
    while not (tmp_path / "child.pid").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child = int((tmp_path / "child.pid").read_text())
    stop_all([proc], grace=0.5)
    assert proc.poll() == 137
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists():
        stat = Path(f"/proc/{child}/stat").read_text() if Path(f"/proc/{child}").exists() else ""
        if stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]:
            break
        assert time.monotonic() < deadline, "child survived"
        time.sleep(0.05)


def test_kill_orphans_kills_recorded_groups_and_drops_stale_records(tmp_path: Path) -> None:
    import json
    import subprocess

    from sftjob_devcluster.nodeagent.runner import kill_orphans, proc_start_time

    run = tmp_path / "run"
    run.mkdir()
    orphan = subprocess.Popen(["sleep", "600"], start_new_session=True)
    (run / "a.json").write_text(
        json.dumps({"pid": orphan.pid, "startTime": proc_start_time(orphan.pid)})
    )
    # A record whose pid now belongs to another process (different start time).
    (run / "b.json").write_text(json.dumps({"pid": os.getpid(), "startTime": "0"}))
    assert kill_orphans(run) == [orphan.pid]
    assert orphan.wait(timeout=10) == -9
    assert list(run.iterdir()) == []


def test_an_own_network_reaches_the_api_server_only_through_the_relay(tmp_path: Path) -> None:
    """A container with api_relay runs in a network namespace of its own: its loopback is
    up and private (the relay inside listens on the very port the host's server holds),
    and the API server's address reaches the agent's Unix socket."""
    import socket
    import threading

    from sftjob_devcluster.nodeagent.apirelay import ApiRelay
    from sftjob_devcluster.nodeagent.runner import ApiRelaySpec

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def answer() -> None:
        conn, _ = server.accept()
        conn.sendall(b"api:" + conn.recv(16))
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    relay = ApiRelay(tmp_path / "api.sock", "127.0.0.1", port)
    relay.start()
    script = (
        "import socket\n"
        f"c = socket.create_connection(('127.0.0.1', {port}))\n"
        "c.sendall(b'hello'); print(c.recv(64).decode())\n"
    )
    spec = ExecSpec(
        argv=[sys.executable, "-c", script],
        env={"PATH": os.environ["PATH"]},
        cwd=str(tmp_path / "cwd"),
        hostname="op-0",
        mounts=[],
        start_error_file=str(tmp_path / "c.start-error"),
        api_relay=ApiRelaySpec(port, str(tmp_path / "api.sock")),
    )
    proc = ContainerProcess.start(
        spec, tmp_path / "c.json", tmp_path / "c.log", tmp_path / "run" / "c.pid"
    )
    try:
        assert wait(proc) == 0, (tmp_path / "c.log").read_text()
        assert (tmp_path / "c.log").read_text().strip() == "api:hello"
    finally:
        relay.stop()
        server.close()


def test_a_process_that_left_the_group_dies_with_its_container(tmp_path: Path) -> None:
    """As `accelerate launch` under sftjob-train: a child in a session of its own. A real
    runtime kills it with the container; so does the agent, by the marker it inherited."""
    pid_file = tmp_path / "child.pid"
    script = f"""
import subprocess, sys, pathlib
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"],
                         start_new_session=True)
pathlib.Path({str(pid_file)!r}).write_text(str(child.pid))
"""
    proc = start(tmp_path, script, [])
    assert wait(proc) == 0
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(child), f"the container's child {child} outlived it"


def running(pid: int) -> bool:
    """Alive and not a zombie (killed, waiting for init to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
