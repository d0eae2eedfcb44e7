"""Throwaway RabbitMQ nodes ``kl1..kl3@localhost`` beside the machine's own.

Tests that restart a node, raise an alarm, change a setting or force
connections closed must never do it to the broker on 127.0.0.1:5672: that
stands for a developer's own broker, shared with other work.  They run on
these nodes instead, which the suite starts from Debian's
``rabbitmq-server`` and throws away at the end of the session:

=====  ==================  ==========  ==================
node   name                AMQP port   distribution port
=====  ==================  ==========  ==================
1      ``kl1@localhost``   5681        25681
2      ``kl2@localhost``   5682        25682
3      ``kl3@localhost``   5683        25683
=====  ==================  ==========  ==================

Everything a node writes (database, logs, pid file, its config file) is
under one temporary folder.  The nodes have an Erlang cookie of their own,
in a ``home`` folder there, so neither they nor the ``rabbitmqctl`` run
here can talk to the machine's node (``rabbit@<host>``), and every command
names its node with ``-n``.  As root they run as the ``rabbitmq`` user
(``su rabbitmq``); any other user runs them as itself.

Only one test session at a time may use the nodes (the names and ports are
fixed): :meth:`PrivateNodes.open` takes a lock for the session, and, holding
it, first stops what a crashed earlier session left running.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = [
    "NODE_COUNT",
    "NodesUnavailable",
    "PrivateNode",
    "PrivateNodes",
    "unavailable_reason",
]

#: How many nodes the cluster has.
NODE_COUNT = 3

#: Debian's ``/usr/sbin`` wrappers ``su`` to rabbitmq, ``cd`` to its home and
#: send a server's output to the machine node's ``startup_log``; the scripts
#: they wrap take our environment as it is.
_SCRIPTS = Path("/usr/lib/rabbitmq/bin")

#: Folders of a session are named so; a leftover one is found by this name.
_PREFIX = "kombu-lite-nodes-"

#: Bounds for one ``rabbitmqctl`` call and for a node's boot.
_CTL_TIMEOUT = 60.0
_BOOT_TIMEOUT = 45

#: Erlang distribution on loopback only, for the nodes and for the CLI.
_LOOPBACK_ONLY = "-kernel inet_dist_use_interface {127,0,0,1}"


class NodesUnavailable(RuntimeError):
    """The private nodes cannot run here; the message says why."""


def _script(name: str) -> str | None:
    packaged = _SCRIPTS / name
    if packaged.is_file():
        return str(packaged)
    return shutil.which(name)


def _node_user() -> str:
    """The user the nodes run as: ``rabbitmq`` for root, else oneself."""
    if os.geteuid() == 0:
        return "rabbitmq"
    return pwd.getpwuid(os.geteuid()).pw_name


def unavailable_reason() -> str | None:
    """Why the private nodes cannot run here, or None when they can."""
    if _script("rabbitmq-server") is None or _script("rabbitmqctl") is None:
        return "rabbitmq-server is not installed (Debian package rabbitmq-server)"
    try:
        pwd.getpwnam(_node_user())
    except KeyError:
        return "running as root, but there is no rabbitmq user to run the nodes"
    return None


@dataclass(frozen=True, slots=True)
class PrivateNode:
    """One throwaway node: its name, ports, URL and ``rabbitmqctl``."""

    index: int
    nodes: PrivateNodes

    @property
    def name(self) -> str:
        return f"kl{self.index}@localhost"

    @property
    def port(self) -> int:
        return 5680 + self.index

    @property
    def dist_port(self) -> int:
        return 25680 + self.index

    @property
    def url(self) -> str:
        """The AMQP URL of the node's default virtual host, as guest."""
        return self.vhost_url("")

    def vhost_url(self, vhost: str) -> str:
        """The AMQP URL of virtual host ``vhost`` on this node, as guest."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{vhost}"

    def ctl(self, *args: str) -> str:
        """Run ``rabbitmqctl -n <this node> ARGS``; return what it printed.

        Raises RuntimeError, with what the command printed, when it fails.
        """
        return self.nodes.ctl(self.name, *args)

    @property
    def folder(self) -> Path:
        return self.nodes.base / f"kl{self.index}"

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """Stop the node's RabbitMQ application for the ``with`` block.

        ``rabbitmqctl stop_app`` closes every connection to the node and
        hands its quorum queue leaderships to the other nodes; the Erlang
        VM stays up, and the node stays a member of the cluster.  On the
        way out, even when the block raised, ``start_app`` starts it again
        and ``await_startup`` waits until it serves AMQP again, so a failing
        test leaves the cluster whole.
        """
        self.ctl("stop_app")
        try:
            yield
        finally:
            self.ctl("start_app")
            self.ctl("await_startup", "--timeout", str(_BOOT_TIMEOUT))


class PrivateNodes:
    """The private nodes of one test session, started when first asked for.

    Use :meth:`open` (takes the session lock) and :meth:`close` (stops every
    node it started and removes the folder, whatever state they are in).
    """

    def __init__(self, base: Path, lock: IO[str]) -> None:
        self.base = base
        self._lock = lock
        self._home = base / "home"
        self._running: list[PrivateNode] = []

    # -- the session ------------------------------------------------------------

    @classmethod
    def open(cls, wait: float = 30.0) -> PrivateNodes:
        """Take the session lock, clear leftovers, make a fresh folder.

        Raises NodesUnavailable when another session holds the lock for
        longer than ``wait`` seconds, or when the ports stay taken.
        """
        lock_path = (
            Path(tempfile.gettempdir()) / f"kombu-lite-nodes.{os.geteuid()}.lock"
        )
        lock = lock_path.open("a+")
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    lock.close()
                    raise NodesUnavailable(
                        "another test session is using the private nodes "
                        f"kl1..kl{NODE_COUNT}@localhost (lock {lock_path})"
                    ) from None
                time.sleep(0.5)
        try:
            _clear_leftovers()
            base = Path(tempfile.mkdtemp(prefix=_PREFIX))
            nodes = cls(base, lock)
            nodes._prepare()
        except BaseException:
            lock.close()
            raise
        return nodes

    def close(self) -> None:
        """Stop every node started here, remove the folder, release the lock."""
        try:
            self._stop_all()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
            self._lock.close()

    # -- nodes -------------------------------------------------------------------

    def start(self, count: int) -> list[PrivateNode]:
        """Nodes kl1..kl<count>, running and clustered with kl1.

        Starts the ones not running yet (kl1 alone for ``count=1``); the
        others join kl1's cluster.  Raises RuntimeError, naming the node
        and its log, when one does not boot or join.
        """
        new = [
            PrivateNode(index, self)
            for index in range(len(self._running) + 1, count + 1)
        ]
        launched = [self._launch(node) for node in new]
        self._running.extend(new)
        for node, launch in zip(new, launched, strict=True):
            self._await_boot(node, launch)
        for node in new:
            if node.index > 1:
                node.ctl("stop_app")
                node.ctl("join_cluster", "kl1@localhost")
                node.ctl("start_app")
                node.ctl("await_startup", "--timeout", str(_BOOT_TIMEOUT))
        return self._running[:count]

    def ctl(self, node: str, *args: str) -> str:
        """Run ``rabbitmqctl -n NODE ARGS`` with the nodes' cookie."""
        ctl = _script("rabbitmqctl")
        assert ctl is not None  # unavailable_reason() checked
        done = subprocess.run(
            self._as_node_user([ctl, "-n", node, *args]),
            capture_output=True,
            text=True,
            timeout=_CTL_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"rabbitmqctl -n {node} {shlex.join(args)} failed "
                f"({done.returncode}): {(done.stderr or done.stdout).strip()}"
            )
        return done.stdout

    # -- how ---------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        return {
            "HOME": str(self._home),
            # Not /etc/rabbitmq/rabbitmq-env.conf: it names the machine's node.
            "RABBITMQ_CONF_ENV_FILE": "/dev/null",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_FLAGS": _LOOPBACK_ONLY,
        }

    def _as_node_user(
        self, argv: list[str], extra: dict[str, str] | None = None
    ) -> list[str]:
        """``argv`` as the nodes' user, with the nodes' environment."""
        assignments = [
            f"{k}={v}" for k, v in {**self._environment(), **(extra or {})}.items()
        ]
        command = ["env", *assignments, *argv]
        if os.geteuid() != 0:
            return command
        # su keeps most of the environment, but sets HOME: env sets it back.
        return ["su", "rabbitmq", "-s", "/bin/sh", "-c", "exec " + shlex.join(command)]

    def _prepare(self) -> None:
        """The folder tree and the cookie, owned by the nodes' user."""
        self._home.mkdir()
        cookie = self._home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(20).upper())
        cookie.chmod(0o400)
        for index in range(1, NODE_COUNT + 1):
            folder = self.base / f"kl{index}"
            folder.mkdir()
            (folder / "rabbitmq.conf").write_text(
                f"listeners.tcp.local = 127.0.0.1:{5680 + index}\n"
                "loopback_users = none\n"
            )
            (folder / "enabled_plugins").write_text("[].\n")
        self.base.chmod(0o755)
        if os.geteuid() == 0:
            user = pwd.getpwnam("rabbitmq")
            for path in [self.base, *self.base.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid)

    def _launch(self, node: PrivateNode) -> subprocess.Popen[str]:
        """Start ``rabbitmq-server -detached`` for ``node``; do not wait."""
        _check_ports_free(node)
        server = _script("rabbitmq-server")
        assert server is not None  # unavailable_reason() checked
        folder = node.folder
        return subprocess.Popen(
            self._as_node_user(
                [server, "-detached"],
                {
                    "RABBITMQ_NODENAME": node.name,
                    "RABBITMQ_DIST_PORT": str(node.dist_port),
                    "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
                    "RABBITMQ_LOG_BASE": str(folder / "log"),
                    "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
                    "RABBITMQ_PID_FILE": str(folder / "pid"),
                },
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def _await_boot(self, node: PrivateNode, launch: subprocess.Popen[str]) -> None:
        printed, _ = launch.communicate(timeout=_CTL_TIMEOUT)
        if launch.returncode != 0:
            raise RuntimeError(
                f"rabbitmq-server -detached for {node.name} failed: {printed.strip()}"
            )
        try:
            node.ctl("wait", str(node.folder / "pid"), "--timeout", str(_BOOT_TIMEOUT))
        except RuntimeError as exc:
            raise RuntimeError(
                f"{node.name} did not boot; its log is in {node.folder / 'log'}"
            ) from exc

    def _stop_all(self) -> None:
        """Stop the nodes, all at once; kill what does not stop."""
        ctl = _script("rabbitmqctl")
        assert ctl is not None
        stopping = [
            (
                node,
                subprocess.Popen(
                    self._as_node_user(
                        [ctl, "-n", node.name, "stop", str(node.folder / "pid")]
                    ),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ),
            )
            for node in reversed(self._running)
        ]
        for node, process in stopping:
            try:
                process.wait(timeout=_CTL_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            _kill_by_pid_file(node.folder / "pid")
        self._running.clear()


def _kill_by_pid_file(path: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(path.read_text().strip()), signal.SIGKILL)


def _check_ports_free(node: PrivateNode) -> None:
    for port in (node.port, node.dist_port):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise NodesUnavailable(
                    f"port {port} on 127.0.0.1 is taken: {node.name} cannot start"
                )


def _leftover_pids() -> list[int]:
    """Pids of Erlang VMs a crashed session of ours left running.

    Recognised by their Erlang home, ``<tmp>/kombu-lite-nodes-*/home``:
    the machine's node and any other Erlang VM are never matched.
    """
    found = []
    marker = f"{tempfile.gettempdir()}/{_PREFIX}"
    owner = pwd.getpwnam(_node_user()).pw_uid
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError):
            if entry.stat().st_uid != owner:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if not argv[0].endswith(b"beam.smp") or b"-home" not in argv:
                continue
            home = argv[argv.index(b"-home") + 1].decode(errors="replace")
            if home.startswith(marker) and home.endswith("/home"):
                found.append(int(entry.name))
    return found


def _clear_leftovers() -> None:
    """Kill what a crashed earlier session left; remove its folders.

    Called with the session lock held, so nothing found is in use.
    """
    pids = _leftover_pids()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
        time.sleep(0.1)
    owner = pwd.getpwnam(_node_user()).pw_uid
    for folder in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*"):
        if folder.is_dir() and folder.stat().st_uid == owner:
            shutil.rmtree(folder, ignore_errors=True)
