"""A local PostgreSQL server on 127.0.0.1, from the binaries the system provides.

PostgreSQL refuses to run as root, so when the launcher is root it runs `initdb` and `postgres`
as the `postgres` system account and hands it the data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import pwd
import secrets
import shutil
import signal
import stat
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

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
    write_secret,
    write_state,
)
from impactline.runtime.settings import Settings

USER = "impactline"
DATABASE = "impactline"
SYSTEM_ACCOUNT = "postgres"
_TOOLS = ("postgres", "initdb", "pg_ctl")


def find_bindir() -> Path | None:
    """`pg_config --bindir`, then the newest /usr/lib/postgresql/*/bin, then PATH."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(EmbeddedServerError):
            candidates.append(Path(run_tool([pg_config, "--bindir"], what="pg_config").strip()))
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("postgres")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    return next((c for c in candidates if all((c / tool).exists() for tool in _TOOLS)), None)


def mask_password(url: str) -> str:
    """The URL with its password replaced by `***`, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def traversable_by(user: str, path: Path) -> bool:
    """Whether `user` may reach `path` (execute permission on every existing ancestor)."""
    account = pwd.getpwnam(user)
    for directory in (path, *path.parents):
        try:
            st = directory.stat()
        except FileNotFoundError:
            continue
        if st.st_uid == account.pw_uid:
            bit = stat.S_IXUSR
        elif st.st_gid == account.pw_gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


class EmbeddedPostgres:
    """Install (when root and missing), initialise, start, find again and stop the server."""

    name = "postgres"

    def __init__(self, settings: Settings, *, ready_timeout: float = 60.0) -> None:
        self.settings = settings
        self.ready_timeout = ready_timeout
        self.root = settings.state_dir / "postgres"
        self.state_file = self.root / "state.json"
        self.pid_file = self.root / "postgres.pid"
        self.password_file = self.root / "password"
        self.log_file = self.root / "postgres.log"
        self.run_as = SYSTEM_ACCOUNT if os.geteuid() == 0 else None
        self._lock = FileLock(self.root / ".lock")
        self.started_here = False

    @property
    def data_dir(self) -> Path:
        preferred = self.root / "data"
        if self.run_as is None or traversable_by(self.run_as, preferred.parent):
            return preferred
        # The service account cannot reach the state directory (a private home, say): keep
        # the cluster in a temporary folder that is stable for this state directory.
        digest = hashlib.sha256(str(self.settings.state_dir.resolve()).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"impactline-pg-{digest}" / "data"

    # -- install ---------------------------------------------------------------------------

    def ensure_installed(self, progress: Progress = no_progress) -> Path:
        """The directory of `postgres`, `initdb` and `pg_ctl`; installs them with apt as root."""
        bindir = find_bindir()
        if bindir is not None:
            return bindir
        apt = shutil.which("apt-get")
        if os.geteuid() != 0 or apt is None:
            raise EmbeddedServerError(
                "no PostgreSQL server found (looked at pg_config --bindir, "
                "/usr/lib/postgresql/*/bin and PATH): install one "
                "(Debian: apt-get install postgresql) or set DATABASE_URL"
            )
        progress("PostgreSQL: installing the server with apt-get (once)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run_tool([apt, "-q", "update"], what="apt-get update", env=env, timeout=600)
        run_tool(
            [apt, "-q", "-y", "install", "--no-install-recommends", "postgresql"],
            what="apt-get install postgresql",
            env=env,
            timeout=900,
        )
        bindir = find_bindir()
        if bindir is None:
            raise EmbeddedServerError("apt-get installed postgresql but no server binary appeared")
        progress(f"PostgreSQL: installed in {bindir}")
        return bindir

    # -- run -------------------------------------------------------------------------------

    async def start(self, progress: Progress = no_progress) -> str:
        """Start the server, or reuse the one already running; returns its DATABASE_URL."""
        async with self._lock.held_async():
            running = await self._reusable()
            if running is not None:
                self.started_here = False
                progress(f"PostgreSQL already running at {mask_password(running)}")
                return running
            bindir = await asyncio.to_thread(self.ensure_installed, progress)
            password = self._password()
            data = self.data_dir
            await asyncio.to_thread(self._init_cluster, bindir, data, password, progress)
            previous = read_state(self.state_file) or {}
            port = free_port(previous.get("port"))
            argv = [str(bindir / "postgres"), "-D", str(data)]
            for setting in (
                "listen_addresses=127.0.0.1",
                f"port={port}",
                "unix_socket_directories=",  # TCP on loopback only, no socket file anywhere
                "logging_collector=off",
            ):
                argv += ["-c", setting]
            progress(f"PostgreSQL: starting on 127.0.0.1:{port}")
            started = time.monotonic()
            pid = spawn_detached(argv, log_file=self.log_file, cwd=data, user=self.run_as)
            self.pid_file.write_text(f"{pid}\n")
            write_state(
                self.state_file,
                {
                    "pid": pid,
                    "port": port,
                    "data_dir": str(data),
                    "bindir": str(bindir),
                    "log_file": str(self.log_file),
                },
            )
            try:
                await wait_until_ready(
                    lambda: _answers(port, password, "postgres"),
                    what="PostgreSQL",
                    pid=pid,
                    log_file=self.log_file,
                    deadline_s=self.ready_timeout,
                )
                await _create_database(port, password)
            except BaseException:
                await asyncio.to_thread(self._stop_pid, pid, bindir, data)
                raise
            self.started_here = True
            url = database_url(port, password)
            progress(f"PostgreSQL ready in {time.monotonic() - started:.1f}s (pid {pid})")
            return url

    async def _reusable(self) -> str | None:
        state = read_state(self.state_file)
        if state is None or not pid_runs(state.get("pid"), "postgres"):
            return None
        port = int(state["port"])
        password = self._password()
        await await_running(
            lambda: _answers(port, password, DATABASE),
            "PostgreSQL",
            int(state["pid"]),
            self.log_file,
        )
        return database_url(port, password)

    def _password(self) -> str:
        if self.password_file.exists():
            return self.password_file.read_text().strip()
        if (self.data_dir / "PG_VERSION").exists():
            raise EmbeddedServerError(
                f"{self.password_file} is missing but a cluster exists in {self.data_dir}: "
                "restore the file or delete that data directory to start afresh"
            )
        password = secrets.token_urlsafe(24)
        write_secret(self.password_file, password)
        return password

    def _init_cluster(self, bindir: Path, data: Path, password: str, progress: Progress) -> None:
        if (data / "PG_VERSION").exists():
            return
        progress(f"PostgreSQL: creating a cluster in {data}")
        data.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._hand_over(data)
        fd, pwfile = tempfile.mkstemp(prefix="impactline-pw-")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(password + "\n")
            self._hand_over(Path(pwfile))
            argv = [str(bindir / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}"]
            argv += ["--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"]
            run_tool(
                argv,
                what="initdb",
                user=self.run_as,
                cwd=data,
                timeout=180,
            )
        finally:
            os.unlink(pwfile)

    def _hand_over(self, path: Path) -> None:
        """Give `path` (and, in the /tmp fallback, its private parent) to the service account."""
        if self.run_as is None:
            return
        account = pwd.getpwnam(self.run_as)
        targets = [path]
        if path.name == "data" and path.parent.name.startswith("impactline-pg-"):
            targets.append(path.parent)
        for target in targets:
            os.chown(target, account.pw_uid, account.pw_gid)
            os.chmod(target, 0o700)

    def stop(self) -> bool:
        """Fast shutdown of the server named in the state file; False when none was running."""
        with self._lock.held():
            state = read_state(self.state_file) or {}
            pid = state.get("pid")
            running = pid_runs(pid, "postgres")
            if running:
                self._stop_pid(
                    int(pid),  # type: ignore[arg-type]
                    Path(state.get("bindir", "")),
                    Path(state.get("data_dir", self.data_dir)),
                )
            if state:  # the ports stay, so the next start offers the same address if it can
                write_state(self.state_file, {k: v for k, v in state.items() if k != "pid"})
            self.pid_file.unlink(missing_ok=True)
            self.started_here = False
            return running

    def _stop_pid(self, pid: int, bindir: Path, data: Path) -> None:
        pg_ctl = bindir / "pg_ctl"
        if pg_ctl.exists():
            with contextlib.suppress(EmbeddedServerError):
                run_tool(
                    [str(pg_ctl), "stop", "-D", str(data), "-m", "fast", "-w", "-t", "60"],
                    what="pg_ctl stop",
                    user=self.run_as,
                    cwd=data,
                    timeout=90,
                )
        # SIGINT is PostgreSQL's fast shutdown, should pg_ctl be missing or fail; also reaps.
        stop_process(pid, sig=signal.SIGINT, timeout=60.0)

    def status(self) -> ServerStatus:
        state = read_state(self.state_file) or {}
        pid = state.get("pid")
        port = state.get("port")
        running = pid_runs(pid, "postgres") and bool(port) and port_open(int(port))
        address = None
        if running and self.password_file.exists():
            address = mask_password(database_url(int(port), self.password_file.read_text()))
        return ServerStatus(
            name=self.name,
            running=running,
            pid=pid if running else None,
            address=address,
            ports={"postgres": int(port)} if running else {},
            log_file=self.log_file,
        )


def database_url(port: int, password: str) -> str:
    return f"postgresql://{USER}:{quote(password.strip(), safe='')}@127.0.0.1:{port}/{DATABASE}"


async def _answers(port: int, password: str, database: str) -> bool:
    try:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=port, user=USER, password=password, database=database, timeout=3
        )
    except Exception:
        return False
    await conn.close()
    return True


async def _create_database(port: int, password: str) -> None:
    conn = await asyncpg.connect(
        host="127.0.0.1", port=port, user=USER, password=password, database="postgres", timeout=5
    )
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()
