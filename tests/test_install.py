"""deploy/install.sh in a fresh Debian root filesystem (debootstrap minbase, bookworm):
it installs, `traycheck doctor` passes there with a bundled fixture as the camera, and
running the installer again changes nothing.

Needs root and debootstrap (`.ci/run` installs it). The pristine root filesystem is
cached as a tarball (TRAYCHECK_ROOTFS_CACHE) so a re-run starts from a fresh copy
without downloading it again.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

CACHE = Path(os.environ.get("TRAYCHECK_ROOTFS_CACHE", "/var/cache/traycheck-test/bookworm-minbase.tar"))
MIRROR = os.environ.get("TRAYCHECK_DEBIAN_MIRROR", "http://deb.debian.org/debian")
CA = Path("/etc/ssl/certs/ca-certificates.crt")
CHROOT_CA = Path("/usr/local/share/host-ca-bundle.crt")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="debootstrap and chroot need root"),
]


def sh(*cmd: str, timeout: float = 900, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, **kw)


def pristine_rootfs(dest: Path, cache: Path = CACHE, include: str = "") -> None:
    """A fresh bookworm minbase root (with ``include``: more packages) in ``dest``, from a cached
    tarball built once by debootstrap."""
    if not cache.is_file():
        assert shutil.which("debootstrap"), "debootstrap is not installed (apt-get install debootstrap)"
        build = dest.parent / "debootstrap"
        extra = [f"--include={include}"] if include else []
        p = sh("debootstrap", "--variant=minbase", *extra, "bookworm", str(build), MIRROR, timeout=1200)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")  # two test workers may build it at once
        assert sh("tar", "-C", str(build), "-cf", str(tmp), ".").returncode == 0
        tmp.rename(cache)
        shutil.rmtree(build)
    dest.mkdir()
    assert sh("tar", "-C", str(dest), "-xf", str(cache)).returncode == 0


class Chroot:
    """A root filesystem with /proc, /dev, the pip configuration and the source tree."""

    def __init__(self, root: Path):
        self.root = root
        self.mounts: list[Path] = []

    def __enter__(self) -> "Chroot":
        try:
            self._setup()
        except BaseException:
            self.__exit__()  # never leave /dev or /proc mounted under a temp dir that gets deleted
            raise
        return self

    def _mount(self, *args: str) -> None:
        target = Path(args[-1])
        target.mkdir(parents=True, exist_ok=True)
        p = sh("mount", *args)
        assert p.returncode == 0, p.stderr
        self.mounts.append(target)

    def _setup(self) -> None:
        r = self.root
        self._mount("-t", "proc", "proc", str(r / "proc"))
        self._mount("--bind", "/dev", str(r / "dev"))  # not recursive: nothing below /dev is needed
        shutil.copy("/etc/resolv.conf", r / "etc/resolv.conf")
        # The package mirror's certificate chain, where Debian's ca-certificates (which the
        # installer's apt-get may pull in) does not rewrite it; pip is pointed at it.
        if CA.is_file():
            shutil.copy(CA, r / CHROOT_CA.relative_to("/"))
        if Path("/etc/pip.conf").is_file():
            (r / "etc/pip.conf").write_text(Path("/etc/pip.conf").read_text().replace(str(CA), str(CHROOT_CA)))
        links = os.environ.get("PIP_FIND_LINKS")
        if links and Path(links).is_dir():
            self._mount("--bind", "-o", "ro", links, str(r / links.lstrip("/")))
        files = sh("git", "ls-files", "-z", cwd=ROOT).stdout
        (r / "src").mkdir()
        pack = subprocess.run(["tar", "--null", "-T", "-", "-cf", "-"], input=files.encode(), cwd=ROOT,
                              capture_output=True)
        assert pack.returncode == 0
        subprocess.run(["tar", "-C", str(r / "src"), "-xf", "-"], input=pack.stdout, check=True)

    def __exit__(self, *exc) -> None:
        for m in reversed(self.mounts):
            sh("umount", "-l", str(m))
        self.mounts.clear()

    def run(self, *cmd: str, user: str | None = None, timeout: float = 1200) -> subprocess.CompletedProcess:
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
               "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive",
               **{k: v.replace(str(CA), str(CHROOT_CA)) for k, v in os.environ.items() if k.startswith("PIP_")}}
        args = ["chroot", *([f"--userspec={user}:{user}"] if user else []), str(self.root), *cmd]
        return sh(*args, timeout=timeout, env=env)

    def snapshot(self) -> dict[str, tuple]:
        """Content, mode and owner of everything the installer manages."""
        out = {}
        for top in ("opt/traycheck", "etc/traycheck", "etc/systemd/system", "var/lib/traycheck"):
            for p in sorted((self.root / top).rglob("*")):
                # .cache: onnxruntime's own files in the service user's home (config check runs as it)
                if "__pycache__" in p.parts or ".cache" in p.parts or p.is_symlink() or not p.is_file():
                    continue
                st = p.stat()
                out[str(p.relative_to(self.root))] = (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_mode,
                                                      st.st_uid, st.st_gid)
        for f in ("etc/passwd", "etc/group"):
            out[f] = (hashlib.sha256((self.root / f).read_bytes()).hexdigest(),)
        return out


CONFIG = """\
site: chroot-test
data_dir: /var/lib/traycheck
cameras:
  - name: expo-1
    source: /opt/traycheck/src/fixtures/lunch-rush/video.mp4
http:
  listen: 127.0.0.1:18080
"""


def test_install_in_a_fresh_debian_then_doctor_then_reinstall_changes_nothing(tmp_path):
    root = tmp_path / "rootfs"
    pristine_rootfs(root)
    with Chroot(root) as ch:
        first = ch.run("/src/deploy/install.sh", "--no-start")
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        assert "systemd is not running here" in first.stdout
        assert (root / "etc/systemd/system/multi-user.target.wants/traycheck.service").is_symlink()
        assert (root / "opt/traycheck/venv/bin/traycheck").is_file()
        assert not (root / "opt/traycheck/venv/lib/python3.11/site-packages/torch").exists()  # runtime only
        cfg = root / "etc/traycheck/config.yaml"
        assert "cameras:" in cfg.read_text()
        cfg.write_text(CONFIG)  # the operator points the camera at a recorded shift

        doctor = ch.run("/opt/traycheck/venv/bin/traycheck", "doctor", "--config", "/etc/traycheck/config.yaml",
                        user="traycheck", timeout=600)
        assert doctor.returncode == 0, doctor.stdout[-3000:] + doctor.stderr[-3000:]
        report = doctor.stdout + doctor.stderr
        assert "expo-1" in report and "FAIL" not in report, report

        before = ch.snapshot()
        again = ch.run("/src/deploy/install.sh", "--no-start")
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
        assert "code in /opt/traycheck is up to date" in again.stdout
        after = ch.snapshot()
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        assert not changed, changed
