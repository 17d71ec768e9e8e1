"""A single-node Apache Kafka broker (KRaft, broker and controller in one JVM) on 127.0.0.1.

The jars come from Maven Central through `deploy/kafka/pom.xml` and are cached under the state
directory, so only the first start needs the network.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from impactline.runtime.embedded.process import (
    EmbeddedServerError,
    FileLock,
    Progress,
    ServerStatus,
    await_running,
    free_port,
    no_progress,
    pid_runs,
    port_open,
    read_state,
    run_tool,
    spawn_detached,
    stop_process,
    wait_until_ready,
    write_state,
)
from impactline.runtime.settings import SOURCE_ROOT, Settings

POM = SOURCE_ROOT / "deploy" / "kafka" / "pom.xml" if SOURCE_ROOT is not None else None
MAIN_CLASS = "kafka.Kafka"
_DOWNLOADED = re.compile(r"Downloaded from \S+: \S+/([^/\s]+\.jar) \(([^)]*)\)")


def pom_version(pom: Path | None = POM) -> str:
    """The Kafka version pinned in the pom (what `KAFKA_VERSION` overrides)."""
    if pom is None or not pom.exists():
        raise EmbeddedServerError(
            "the embedded Kafka broker needs deploy/kafka/pom.xml from the source tree; "
            "run from a checkout or set KAFKA_BOOTSTRAP_SERVERS to an existing broker"
        )
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(pom).getroot().find("m:properties/m:kafka.version", ns)
    if node is None or not (node.text or "").strip():
        raise EmbeddedServerError(f"{pom}: no <kafka.version> property")
    return (node.text or "").strip()


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):  # a leading dash reads as an option on the command line
            return cid


def find_java(kafka_version: str) -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise EmbeddedServerError(
            "Java is needed for the embedded Kafka broker: install a JDK 17 or newer "
            "(Debian: apt-get install openjdk-17-jre-headless) or set KAFKA_BOOTSTRAP_SERVERS"
        )
    needed = 17 if int(kafka_version.split(".")[0]) >= 4 else 11
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)', out)
    if match and int(match.group(1)) < needed:
        raise EmbeddedServerError(
            f"Kafka {kafka_version} needs Java {needed} or newer, {java} is Java "
            f"{match.group(1)}: set JAVA_HOME to a newer JDK"
        )
    return java


class EmbeddedKafka:
    """Install, start, find again and stop the local broker."""

    name = "kafka"

    def __init__(self, settings: Settings, *, heap: str = "512m", ready_timeout: float = 90.0):
        self.settings = settings
        self.heap = heap
        self.ready_timeout = ready_timeout
        self.root = settings.state_dir / "kafka"
        self.version = settings.kafka_version or pom_version()
        self.home = self.root / self.version
        self.libs = self.home / "libs"
        self.data = self.home / "data"
        self.log_file = self.home / "kafka.log"
        self.state_file = self.root / "state.json"
        self.pid_file = self.root / "kafka.pid"
        self._lock = FileLock(self.root / ".lock")
        self._install_lock = FileLock(self.root / ".install.lock")
        self.started_here = False

    # -- install ---------------------------------------------------------------------------

    def installed(self) -> bool:
        return (self.libs / ".complete").exists()

    def ensure_installed(self, progress: Progress = no_progress) -> Path:
        """Resolve the broker jars once; later calls return at once (Maven works offline then)."""
        with self._install_lock.held():
            if self.installed():
                return self.libs
            self._download(progress)
        return self.libs

    def _download(self, progress: Progress) -> None:
        mvn = shutil.which("mvn")
        if mvn is None:
            raise EmbeddedServerError(
                "Maven is needed once to fetch the Kafka jars: install it "
                "(Debian: apt-get install maven) or set KAFKA_BOOTSTRAP_SERVERS"
            )
        pom = POM if POM is not None and POM.exists() else None
        if pom is None:
            pom_version(None)  # raises the explanatory error
            return
        partial = self.home / "libs.partial"
        shutil.rmtree(partial, ignore_errors=True)
        argv = [
            mvn,
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(pom),
            f"-Dmaven.repo.local={self.settings.state_dir / 'm2'}",
            f"-Dkafka.version={self.version}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
        ]
        progress(f"Kafka {self.version}: resolving the broker jars with Maven (cached afterwards)")
        started = time.monotonic()
        output: list[str] = []
        downloads = 0
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                output.append(line.rstrip())
                match = _DOWNLOADED.search(line)
                if match:
                    downloads += 1
                    if downloads % 10 == 1:  # Maven and Kafka need ~100 jars: a line per tenth
                        progress(f"  {downloads} jars downloaded, latest {match.group(1)}")
        if proc.returncode != 0:
            errors = [line for line in output if "ERROR" in line] or output
            detail = "\n  ".join(errors[-12:])
            raise EmbeddedServerError(
                f"Maven could not resolve Kafka {self.version} "
                f"(exit {proc.returncode}):\n  {detail}"
            )
        jars = sorted(partial.glob("*.jar"))
        if not any(jar.name.startswith("kafka_2.13-") for jar in jars):
            raise EmbeddedServerError(f"Maven finished but {partial} holds no kafka_2.13 jar")
        shutil.rmtree(self.libs, ignore_errors=True)
        partial.replace(self.libs)
        (self.libs / ".complete").write_text(f"{len(jars)} jars\n")
        elapsed = time.monotonic() - started
        progress(f"Kafka {self.version}: {len(jars)} jars ready in {elapsed:.1f}s")

    # -- run -------------------------------------------------------------------------------

    async def start(self, progress: Progress = no_progress) -> str:
        """Start the broker, or reuse the one already running; returns `127.0.0.1:PORT`."""
        async with self._lock.held_async():
            running = await self._reusable()
            if running is not None:
                self.started_here = False
                progress(f"Kafka already running at {running}")
                return running
            await asyncio.to_thread(self.ensure_installed, progress)
            java = find_java(self.version)
            previous = read_state(self.state_file) or {}
            broker_port = free_port(previous.get("broker_port"))
            controller_port = free_port(previous.get("controller_port"))
            while controller_port == broker_port:
                controller_port = free_port()
            config = self._write_config(broker_port, controller_port)
            await asyncio.to_thread(self._format_storage, java, config)
            progress(f"Kafka {self.version}: starting the broker on 127.0.0.1:{broker_port}")
            started = time.monotonic()
            pid = spawn_detached(self._command(java, config), log_file=self.log_file, cwd=self.home)
            bootstrap = f"127.0.0.1:{broker_port}"
            self.pid_file.write_text(f"{pid}\n")
            write_state(
                self.state_file,
                {
                    "bootstrap": bootstrap,
                    "pid": pid,
                    "broker_port": broker_port,
                    "controller_port": controller_port,
                    "version": self.version,
                    "log_file": str(self.log_file),
                },
            )
            try:
                await wait_until_ready(
                    lambda: kafka_answers(bootstrap),
                    what=f"Kafka {self.version}",
                    pid=pid,
                    log_file=self.log_file,
                    deadline_s=self.ready_timeout,
                )
            except BaseException:
                await asyncio.to_thread(self._stop_pid, pid)
                raise
            self.started_here = True
            progress(f"Kafka ready at {bootstrap} in {time.monotonic() - started:.1f}s (pid {pid})")
            return bootstrap

    async def _reusable(self) -> str | None:
        state = read_state(self.state_file)
        if state is None or not pid_runs(state.get("pid"), MAIN_CLASS):
            return None
        if state.get("version") != self.version:
            raise EmbeddedServerError(
                f"Kafka {state.get('version')} is running (pid {state.get('pid')}) but "
                f"{self.version} was asked for: stop it first with `impactline dev down`"
            )
        bootstrap = str(state["bootstrap"])
        await await_running(
            lambda: kafka_answers(bootstrap), "Kafka", int(state["pid"]), self.log_file
        )
        return bootstrap

    def _write_config(self, broker_port: int, controller_port: int) -> Path:
        self.data.mkdir(parents=True, exist_ok=True)
        partitions = self.settings.topic_partitions
        # One node: every internal topic has a single replica, and few partitions keep the first
        # consumer group (which creates __consumer_offsets) quick on a small machine.
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data),
            "num.partitions": str(partitions),
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "log.retention.hours": "72",
        }
        config = self.home / "server.properties"
        config.write_text("".join(f"{key}={value}\n" for key, value in lines.items()))
        (self.home / "log4j2.properties").write_text(_LOG4J2)
        return config

    def _format_storage(self, java: str, config: Path) -> None:
        if (self.data / "meta.properties").exists():
            return
        id_file = self.home / "cluster.id"
        if not id_file.exists():
            id_file.write_text(new_cluster_id() + "\n")
        cluster_id = id_file.read_text().strip()
        argv = [java, "-cp", f"{self.libs}/*", "kafka.tools.StorageTool", "format"]
        argv += ["-t", cluster_id, "-c", str(config), "--ignore-formatted"]
        run_tool(
            argv,
            what=f"formatting the Kafka storage in {self.data}",
            timeout=120,
        )

    def _command(self, java: str, config: Path) -> list[str]:
        return [
            java,
            "-Xms128m",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp",
            f"{self.libs}/*",
            MAIN_CLASS,
            str(config),
        ]

    def stop(self) -> bool:
        """Stop the broker named in the state file; False when none was running."""
        with self._lock.held():
            state = read_state(self.state_file) or {}
            pid = state.get("pid")
            running = pid_runs(pid, MAIN_CLASS)
            if running:
                self._stop_pid(int(pid))  # type: ignore[arg-type]
            if state:  # the ports stay, so the next start offers the same address if it can
                write_state(self.state_file, {k: v for k, v in state.items() if k != "pid"})
            self.pid_file.unlink(missing_ok=True)
            self.started_here = False
            return running

    def _stop_pid(self, pid: int) -> None:
        # SIGTERM runs the broker's controlled shutdown, which flushes and closes the logs.
        stop_process(pid, sig=signal.SIGTERM, timeout=60.0)

    def status(self) -> ServerStatus:
        state = read_state(self.state_file) or {}
        pid = state.get("pid")
        port = state.get("broker_port")
        running = pid_runs(pid, MAIN_CLASS) and bool(port) and port_open(int(port))
        return ServerStatus(
            name=self.name,
            running=running,
            pid=pid if running else None,
            address=state.get("bootstrap") if running else None,
            ports={
                key.removesuffix("_port"): int(value)
                for key, value in state.items()
                if key.endswith("_port") and running
            },
            log_file=self.log_file,
        )


async def kafka_answers(bootstrap: str, timeout_ms: int = 3000) -> bool:
    """A real client round trip: the broker is up once it describes its cluster."""
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    quiet = _QuietConnectionErrors()
    logging.getLogger("aiokafka").addFilter(quiet)
    try:
        await client.start()
        await client.describe_cluster()
    except Exception:
        return False
    else:
        return True
    finally:
        with contextlib.suppress(Exception):
            await client.close()
        logging.getLogger("aiokafka").removeFilter(quiet)


class _QuietConnectionErrors(logging.Filter):
    """While probing a starting broker, refused connections are expected, not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "connect" not in record.getMessage().lower()


_LOG4J2 = """\
# Broker log: everything goes to standard output, which the launcher appends to kafka.log.
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.request.name = kafka.request.logger
logger.request.level = warn
logger.statechange.name = state.change.logger
logger.statechange.level = warn
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = warn
"""
