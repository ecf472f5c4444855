"""A Debian root with systemd, booted with ``systemd-nspawn -b --register=no --keep-unit``: the
real systemd the unit tests run under (tests/test_systemd_boot.py)."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.test_install import pristine_rootfs, sh

CACHE = Path(os.environ.get("TRAYCHECK_SYSTEMD_ROOTFS_CACHE", "/var/cache/traycheck-test/bookworm-systemd.tar"))


def systemd_rootfs(dest: Path) -> None:
    """A fresh bookworm minbase root with systemd, from a cached tarball (built once)."""
    pristine_rootfs(dest, CACHE, include="systemd,systemd-sysv,dbus")


class Container:
    """One boot of ``root``; ``ctl`` runs a command inside it. ``close`` powers it off and, if
    that does not end it, kills what is left (also after a failed test)."""

    def __init__(self, root: Path):
        self.root = root
        self.console = open(root.parent / "console.log", "w")
        self.proc = subprocess.Popen(["systemd-nspawn", "-D", str(root), "-b", "--register=no", "--keep-unit",
                                      "--console=passive"], stdin=subprocess.DEVNULL, stdout=self.console,
                                     stderr=subprocess.STDOUT)
        self.init = 0
        try:
            self.init = self._init_pid()
        except BaseException:
            self.close()
            raise

    def _ours(self, pid: int) -> bool:
        """``pid`` is the container's systemd: nspawn forks an intermediate child first, and a
        stale pid may have been reused, so check its program and its root directory."""
        try:
            theirs, ours = os.stat(f"/proc/{pid}/root"), os.stat(self.root)  # its / is our root dir
            return (Path(f"/proc/{pid}/comm").read_text().strip() == "systemd"
                    and (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino))
        except OSError:
            return False

    def _init_pid(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"systemd-nspawn ended: {self.console_text()}"
            try:
                pids = [int(p) for p in children.read_text().split()]
            except OSError:
                pids = []
            init = next((p for p in pids if self._ours(p)), None)
            if init:
                return init
            time.sleep(0.1)
        raise AssertionError(f"systemd-nspawn started no init: {self.console_text()}")

    def console_text(self) -> str:
        self.console.flush()
        return (self.root.parent / "console.log").read_text(errors="replace")[-3000:]

    def ctl(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return sh("nsenter", "-t", str(self.init), "-a", *cmd, timeout=timeout)

    def show(self, *props: str) -> dict[str, str]:
        out = self.ctl("systemctl", "show", "traycheck.service", *(f"--property={p}" for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait_for(self, what: str, cond, timeout: float) -> dict[str, str]:
        """Poll the unit's properties until ``cond(props)`` holds; the properties then."""
        deadline = time.monotonic() + timeout
        props: dict[str, str] = {}
        while time.monotonic() < deadline:
            props = self.show("ActiveState", "SubState", "MainPID", "NRestarts", "StatusText", "Result",
                              "ExecMainStatus")
            if cond(props):
                return props
            time.sleep(0.2)
        raise AssertionError(f"{what}: not within {timeout} s; last {props}\n{self.journal()[-3000:]}")

    def journal(self, *args: str) -> str:
        return self.ctl("journalctl", "-b", "--no-pager", "-o", "short-monotonic", "-u", "traycheck.service",
                        *args).stdout

    def close(self) -> None:
        """Power off: SIGTERM makes nspawn send the container's init SIGRTMIN+3 (an orderly
        poweroff); whatever still runs a minute later is killed."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        if self.init and self._ours(self.init):  # outlived nspawn: SIGKILL of the init ends its PID namespace
            os.kill(self.init, 9)
        self.console.close()
