"""Run Apache Kafka (KRaft, single node) from its Maven jars, without Docker or a tarball.

Standard library only: the test fixtures import this file by path before any project package is
importable, and `make kafka` runs it with a bare interpreter.

    python deploy/kafka/launcher.py fetch            # resolve the jars into the user cache
    python deploy/kafka/launcher.py run              # foreground broker on 127.0.0.1:9092

From Python::

    with KafkaServer() as kafka:          # free loopback ports, throwaway data dir
        use(kafka.bootstrap_servers)
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import ctypes
import ctypes.util
import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, TracebackType

HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
LOG4J_CONFIG = HERE / "log4j2.properties"
HOST = "127.0.0.1"
# Created through metadata auto-creation to prove the controller accepts topic creation; the leading
# underscore keeps it out of the `switchboard.` namespace that tools list.
READINESS_TOPIC = "_launcher_ready"
CLIENT_ID = b"switchboard-launcher"
LIBS_MARKER = ".pom-sha256"

_API_METADATA = 3
_API_API_VERSIONS = 18
# Kafka 4.0 removed Metadata v0-v3 (KIP-896); v4 is the oldest left and the newest non-flexible one,
# so its encoding stays simple.
_METADATA_VERSION = 4
_PR_SET_PDEATHSIG = 1


class LauncherError(RuntimeError):
    """The broker could not be fetched, formatted or started."""


def kafka_version(pom: Path = POM) -> str:
    match = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", pom.read_text(encoding="utf-8"))
    if match is None:
        raise LauncherError(f"no <kafka.version> property in {pom}")
    return match.group(1)


def default_cache_dir(pom: Path = POM) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "switchboard" / f"kafka-{kafka_version(pom)}"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _libs_current(libs: Path, digest: str) -> bool:
    marker = libs / LIBS_MARKER
    return marker.is_file() and marker.read_text(encoding="utf-8").strip() == digest


def ensure_libs(cache_dir: Path | None = None, *, pom: Path = POM) -> Path:
    """Return a directory holding Kafka's runtime classpath, running Maven only when the pom changed.

    The marker with the pom's hash is written inside the download directory before it is renamed
    into place, so a `libs` directory with a matching marker is always complete.
    """
    cache_dir = cache_dir if cache_dir is not None else default_cache_dir(pom)
    libs = cache_dir / "libs"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    if _libs_current(libs, digest):
        return libs
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _file_lock(cache_dir / ".lock"):
        if _libs_current(libs, digest):
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LauncherError("Maven (mvn) is not on PATH; it is needed once to fetch the Kafka jars")
        download = Path(tempfile.mkdtemp(prefix="libs.download.", dir=cache_dir))
        try:
            result = subprocess.run(
                [
                    mvn,
                    "-q",
                    "-B",
                    "-f",
                    str(pom),
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={download}",
                ],
                cwd=download,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise LauncherError(
                    f"mvn dependency:copy-dependencies failed ({result.returncode}):\n"
                    f"{result.stdout}\n{result.stderr}"
                )
            if not any(download.glob("kafka_*.jar")):
                raise LauncherError(f"mvn ran but left no kafka_*.jar in {download}")
            (download / LIBS_MARKER).write_text(digest + "\n", encoding="utf-8")
            stale: Path | None = None
            if libs.exists():
                stale = cache_dir / f"libs.stale.{os.getpid()}"
                libs.rename(stale)
            download.rename(libs)
            if stale is not None:
                shutil.rmtree(stale, ignore_errors=True)
        finally:
            if download.exists():
                shutil.rmtree(download, ignore_errors=True)
    return libs


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Kafka binds with SO_REUSEADDR, so connections still in TIME_WAIT do not block it either.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def new_cluster_id() -> str:
    """A Kafka Uuid in its base64 text form (what `kafka-storage random-uuid` prints)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        # Kafka refuses ids starting with '-' because they read like command-line options.
        if not text.startswith("-"):
            return text


def server_properties(*, port: int, controller_port: int, log_dir: Path, node_id: int = 1) -> str:
    """A single-node KRaft configuration. Every name here was checked against the 4.1.1 jars."""
    settings: dict[str, str | int] = {
        "process.roles": "broker,controller",
        "node.id": node_id,
        "controller.quorum.bootstrap.servers": f"{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": 1,
        "default.replication.factor": 1,
        "min.insync.replicas": 1,
        # The offsets topic has no min-ISR setting of its own; min.insync.replicas above covers it.
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "transaction.state.log.num.partitions": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        "share.coordinator.state.topic.num.partitions": 1,
        "group.initial.rebalance.delay.ms": 0,
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
        "log.retention.hours": 24,
        "log.retention.check.interval.ms": 60_000,
        "log.segment.bytes": 64 * 1024 * 1024,
        # Defaults (3 network, 8 I/O threads) assume a server; this runs beside the tests on 2 cores.
        "num.network.threads": 2,
        "num.io.threads": 4,
        "num.recovery.threads.per.data.dir": 1,
    }
    lines = ["# Written by deploy/kafka/launcher.py on every start; edits are overwritten."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def _take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self._data, self._pos)
        self._pos += struct.calcsize(fmt)
        result: int = value
        return result

    def int8(self) -> int:
        return self._take(">b")

    def int16(self) -> int:
        return self._take(">h")

    def int32(self) -> int:
        return self._take(">i")

    def string(self) -> str | None:
        length = self.int16()
        if length < 0:
            return None
        text = self._data[self._pos : self._pos + length].decode("utf-8")
        self._pos += length
        return text


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        chunks += chunk
    return bytes(chunks)


def _round_trip(
    sock: socket.socket, api_key: int, api_version: int, correlation_id: int, body: bytes
) -> _Reader:
    # Request header v1 (non-flexible): key, version, correlation id, nullable client id.
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(CLIENT_ID)) + CLIENT_ID
    message = header + body
    sock.sendall(struct.pack(">i", len(message)) + message)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    reader = _Reader(_recv_exact(sock, size))
    if reader.int32() != correlation_id:
        raise ConnectionError("broker answered with a different correlation id")
    return reader


def _api_versions(sock: socket.socket) -> dict[int, tuple[int, int]]:
    # ApiVersions v0 is the one request every broker version must answer.
    reader = _round_trip(sock, _API_API_VERSIONS, 0, 1, b"")
    error = reader.int16()
    if error != 0:
        raise ConnectionError(f"ApiVersions error code {error}")
    versions: dict[int, tuple[int, int]] = {}
    for _ in range(reader.int32()):
        key = reader.int16()
        versions[key] = (reader.int16(), reader.int16())
    return versions


def _topic_has_leaders(sock: socket.socket, topic: str, correlation_id: int) -> bool:
    name = topic.encode("utf-8")
    body = struct.pack(">ih", 1, len(name)) + name + b"\x01"  # one topic, allow auto-creation
    reader = _round_trip(sock, _API_METADATA, _METADATA_VERSION, correlation_id, body)
    reader.int32()  # throttle time
    brokers = reader.int32()
    for _ in range(brokers):
        reader.int32()
        reader.string()
        reader.int32()
        reader.string()
    reader.string()  # cluster id
    controller_id = reader.int32()
    if brokers == 0 or controller_id < 0:
        return False
    ready = False
    for _ in range(reader.int32()):
        topic_error = reader.int16()
        reader.string()
        reader.int8()  # is_internal
        partitions = reader.int32()
        leaders = 0
        for _ in range(partitions):
            partition_error = reader.int16()
            reader.int32()
            leader = reader.int32()
            for _ in range(reader.int32()):
                reader.int32()
            for _ in range(reader.int32()):
                reader.int32()
            if partition_error == 0 and leader >= 0:
                leaders += 1
        ready = topic_error == 0 and partitions > 0 and leaders == partitions
    return ready


def probe(host: str, port: int, *, topic: str = READINESS_TOPIC, timeout: float = 2.0) -> bool:
    """True when the broker answers ApiVersions and serves a topic (auto-created if new) with a leader."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            versions = _api_versions(sock)
            low, high = versions.get(_API_METADATA, (1, 0))
            if not low <= _METADATA_VERSION <= high:
                raise LauncherError(f"broker does not speak Metadata v{_METADATA_VERSION} ({low}..{high})")
            return _topic_has_leaders(sock, topic, 2)
    except (OSError, ConnectionError, struct.error, UnicodeDecodeError):
        return False


def _parent_death_signal(sig: signal.Signals) -> Callable[[], None] | None:
    """A preexec hook asking Linux to signal the child when this thread's process dies.

    PR_SET_PDEATHSIG fires when the *thread* that forked exits, so it is only armed from the main
    thread; elsewhere atexit and the process group have to do.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    libc_name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig))
        # The parent may have died between fork and prctl; then nobody would ever send the signal.
        if os.getppid() != parent:
            os._exit(1)

    return arm


class KafkaServer:
    """One Kafka broker+controller process on loopback.

    Without `data_dir` everything lives in a temporary directory that `stop()` deletes. With it, the
    data survives restarts and storage is formatted only the first time.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        controller_port: int | None = None,
        data_dir: Path | None = None,
        cache_dir: Path | None = None,
        java: str = "java",
        heap_max: str = "512m",
        heap_min: str = "256m",
        startup_timeout: float = 120.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self._requested_port = port
        self._requested_controller_port = controller_port
        self._persistent = data_dir is not None
        self._data_dir = data_dir.resolve() if data_dir is not None else None
        self._cache_dir = cache_dir
        self._java = java
        self._heap_max = heap_max
        self._heap_min = heap_min
        self._startup_timeout = startup_timeout
        self._stop_timeout = stop_timeout
        self._work_dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._controller_port: int | None = None
        self.startup_seconds: float | None = None

    @property
    def bootstrap_servers(self) -> str:
        if self._port is None or self._process is None:
            raise LauncherError("the broker is not running")
        return f"{HOST}:{self._port}"

    @property
    def port(self) -> int:
        if self._port is None:
            raise LauncherError("the broker is not running")
        return self._port

    @property
    def work_dir(self) -> Path:
        if self._work_dir is None:
            raise LauncherError("the broker is not running")
        return self._work_dir

    @property
    def log_file(self) -> Path:
        return self.work_dir / "broker.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def __enter__(self) -> KafkaServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> KafkaServer:
        if self._process is not None:
            raise LauncherError("the broker is already running")
        began = time.monotonic()
        libs = ensure_libs(self._cache_dir)
        # Ports we picked ourselves can be taken by someone else before Kafka binds them; then a
        # fresh pair is worth another try. Ports the caller chose are not ours to change.
        ports_are_ours = self._requested_port is None and self._requested_controller_port is None
        attempts = 3 if ports_are_ours and not self._persistent else 1
        atexit.register(self.stop)
        try:
            for attempt in range(1, attempts + 1):
                try:
                    self._launch(libs)
                    self._wait_until_ready()
                    break
                except _PortTaken:
                    self._terminate()
                    if attempt == attempts:
                        raise
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        atexit.unregister(self.stop)
        self._terminate()
        if self._work_dir is not None and not self._persistent:
            shutil.rmtree(self._work_dir, ignore_errors=True)
        self._work_dir = None
        self._port = None
        self._controller_port = None

    def wait(self) -> int:
        """Block until the broker exits on its own; returns its exit code."""
        if self._process is None:
            raise LauncherError("the broker is not running")
        return self._process.wait()

    def _launch(self, libs: Path) -> None:
        if self._persistent:
            assert self._data_dir is not None
            self._data_dir.mkdir(parents=True, exist_ok=True)
            self._work_dir = self._data_dir
        elif self._work_dir is None:
            self._work_dir = Path(tempfile.mkdtemp(prefix="switchboard-kafka-"))
        work = self._work_dir
        log_dir = work / "kafka-data"
        if not self._persistent:
            # A retry after a port clash must not find storage formatted for the old controller port.
            shutil.rmtree(log_dir, ignore_errors=True)
        self._port = self._requested_port if self._requested_port is not None else free_port()
        self._controller_port = (
            self._requested_controller_port if self._requested_controller_port is not None else free_port()
        )
        for wanted in (self._port, self._controller_port):
            if not _port_is_free(wanted):
                if self._requested_port is None and self._requested_controller_port is None:
                    raise _PortTaken(f"{HOST}:{wanted} was taken before Kafka could bind it")
                raise LauncherError(f"{HOST}:{wanted} is already in use")
        properties = work / "server.properties"
        properties.write_text(
            server_properties(port=self._port, controller_port=self._controller_port, log_dir=log_dir),
            encoding="utf-8",
        )
        java_base = [
            self._java,
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            f"-Dswitchboard.kafka.log.file={work / 'broker.log'}",
            "-Djava.awt.headless=true",
            "-cp",
            str(libs / "*"),
        ]
        if not (log_dir / "meta.properties").is_file():
            self._format(java_base, properties)
        console = (work / "console.log").open("ab")
        try:
            self._process = subprocess.Popen(
                [
                    java_base[0],
                    f"-Xmx{self._heap_max}",
                    f"-Xms{self._heap_min}",
                    "-XX:+UseSerialGC",
                    "-XX:+ExitOnOutOfMemoryError",
                    *java_base[1:],
                    "kafka.Kafka",
                    str(properties),
                ],
                cwd=work,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                # Own process group: a terminal's Ctrl-C reaches only us, and we stop Kafka in order.
                start_new_session=True,
                preexec_fn=_parent_death_signal(signal.SIGTERM if self._persistent else signal.SIGKILL),
            )
        finally:
            console.close()

    def _format(self, java_base: list[str], properties: Path) -> None:
        result = subprocess.run(
            [
                *java_base,
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                new_cluster_id(),
                "-c",
                str(properties),
            ],
            cwd=properties.parent,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LauncherError(
                f"kafka-storage format failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        assert self._port is not None
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                diagnostics = self._diagnostics()
                if "Address already in use" in diagnostics or "BindException" in diagnostics:
                    raise _PortTaken(diagnostics)
                raise LauncherError(
                    f"Kafka exited with code {self._process.returncode} while starting:\n{diagnostics}"
                )
            if probe(HOST, self._port):
                return
            time.sleep(0.25)
        raise LauncherError(
            f"Kafka did not become ready within {self._startup_timeout:.0f}s:\n{self._diagnostics()}"
        )

    def _diagnostics(self, lines: int = 40) -> str:
        if self._work_dir is None:
            return ""
        parts = []
        for name in ("console.log", "broker.log"):
            path = self._work_dir / name
            if path.is_file():
                tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path} ---\n" + "\n".join(tail))
        return "\n".join(parts)

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=self._stop_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


class _PortTaken(LauncherError):
    pass


def _run(args: argparse.Namespace) -> int:
    server = KafkaServer(
        port=args.port,
        controller_port=args.controller_port,
        data_dir=Path(args.data_dir),
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        heap_max=args.heap,
    )

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    # Started in the background by a non-interactive shell, SIGINT arrives ignored; a human's Ctrl-C
    # (or `kill -INT`) should still stop the broker.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.start()
        print(
            f"Kafka {kafka_version()} ready on {server.bootstrap_servers} "
            f"(started in {server.startup_seconds:.1f}s; data {server.work_dir}; log {server.log_file}). "
            "Ctrl-C stops it.",
            flush=True,
        )
        code = server.wait()
        print(f"Kafka exited on its own with code {code}; see {server.log_file}", file=sys.stderr)
        return code or 1
    except KeyboardInterrupt:
        print("stopping Kafka…", file=sys.stderr, flush=True)
        return 0
    finally:
        # A second Ctrl-C must not abandon the broker half-way through its shutdown.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a broker in the foreground until Ctrl-C or SIGTERM")
    run.add_argument("--port", type=int, default=9092, help="PLAINTEXT port on 127.0.0.1 (default 9092)")
    run.add_argument(
        "--controller-port",
        type=int,
        default=9093,
        help="KRaft controller port (default 9093); keep it the same for one data dir",
    )
    run.add_argument("--data-dir", default=".data/kafka", help="kept across runs (default .data/kafka)")
    run.add_argument("--heap", default="512m", help="JVM -Xmx (default 512m)")
    run.add_argument("--cache-dir", default=None, help="where the jars live (default: the user cache)")
    fetch = sub.add_parser("fetch", help="only download the Kafka jars into the cache")
    fetch.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            print(ensure_libs(Path(args.cache_dir) if args.cache_dir else None))
            return 0
        return _run(args)
    except LauncherError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
