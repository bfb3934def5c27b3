"""Real servers for the learner who outgrows one process: ``minicluster servers up | status | down``.

``up`` starts, from the system's packages, a Redis (``redis-server``), a PostgreSQL (``initdb`` and
``pg_ctl``, found with ``pg_config --bindir``: Debian keeps them off the PATH) and a PgBouncer in front of
it (transaction pooling), each on a free local port, and writes where they are to one small config file,
``.minicluster/servers.json``. The library reads that file (:func:`settings`); environment variables
override it (``MINICLUSTER_REDIS_URL``, ``MINICLUSTER_POSTGRES_DSN``, ``MINICLUSTER_PGBOUNCER_DSN``), and
pointing them at other hosts is how the workbook runs across machines. ``down`` stops exactly what ``up``
started and removes its data.

PostgreSQL and PgBouncer refuse to run as root. Run as root (as CI does), they are started as an
unprivileged system user (``postgres`` if it exists, else ``nobody``; ``MINICLUSTER_SERVER_USER``
overrides), with their data in a folder of the system's temporary directory that this user owns (the
checkout itself may not be readable by it).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import MiniclusterError

#: The environment variables that override the config file, by setting.
ENV = {
    "redis_url": "MINICLUSTER_REDIS_URL",
    "postgres_dsn": "MINICLUSTER_POSTGRES_DSN",
    "pgbouncer_dsn": "MINICLUSTER_PGBOUNCER_DSN",
}
#: The role the servers are set up with (trust authentication, local connections only).
ROLE = "minicluster"
#: How to install each server, by package manager.
INSTALL = {
    "redis": ("redis-server", "redis"),
    "postgres": ("postgresql", "postgresql@15"),
    "pgbouncer": ("pgbouncer", "pgbouncer"),
    "pgpool": ("pgpool2", "pgpool-ii"),
}


#: Where Debian puts daemons, off an ordinary user's PATH (pgbouncer is in /usr/sbin).
SBIN = ("/usr/sbin", "/usr/local/sbin")


class ServersError(MiniclusterError):
    """A server is missing, or would not start or stop."""


def config_path() -> Path:
    """``.minicluster/servers.json`` in the workbook folder (``MINICLUSTER_CONFIG`` overrides)."""
    if os.environ.get("MINICLUSTER_CONFIG"):
        return Path(os.environ["MINICLUSTER_CONFIG"])
    from .workbook.trees import project_root

    return project_root() / ".minicluster" / "servers.json"


def settings() -> dict[str, str]:
    """Where the real servers are: the config file's URLs, each overridden by its environment variable.
    A setting nobody gave is absent."""
    found: dict[str, str] = {}
    path = config_path()
    if path.is_file():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ServersError(f"{path} is not valid JSON ({exc}): fix it, or delete it and run servers up") from None
        found.update({k: v for k, v in saved.items() if k in ENV and isinstance(v, str)})
    found.update({k: os.environ[var] for k, var in ENV.items() if os.environ.get(var)})
    return found


def redis_url() -> str | None:
    """The real Redis to use, if one is configured."""
    return settings().get("redis_url")


def postgres_dsn() -> str | None:
    """The real PostgreSQL to use (a DSN of its ``postgres`` database, as a role that may create databases)."""
    return settings().get("postgres_dsn")


# -- finding the programs ---------------------------------------------------------------------------
def _missing(server: str, program: str) -> ServersError:
    apt, brew = INSTALL[server]
    return ServersError(
        f"{program} is not installed: on Debian/Ubuntu `sudo apt-get install {apt}`, with Homebrew "
        f"`brew install {brew}`; then run `minicluster servers up` again"
    )


def postgres_bindir() -> Path:
    """The folder of ``initdb``, ``pg_ctl`` and ``postgres`` (``pg_config --bindir``, else the PATH)."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        folder = Path(
            subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        )
        if (folder / "initdb").is_file():
            return folder
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise _missing("postgres", "PostgreSQL (initdb, pg_ctl)")


def program(server: str) -> Path:
    """The executable that runs ``server`` ("redis", "postgres" or "pgbouncer")."""
    if server == "postgres":
        return postgres_bindir() / "pg_ctl"
    name = {"redis": "redis-server", "pgbouncer": "pgbouncer"}[server]
    found = shutil.which(name) or next((str(Path(d, name)) for d in SBIN if Path(d, name).is_file()), None)
    if not found:
        raise _missing(server, name)
    return Path(found)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait_listening(port: int, what: str, log: Path, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if _listening(port):
            return
        time.sleep(0.05)  # polling a port another process opens: nothing to wait on but time
    tail = log.read_text(errors="replace")[-800:] if log.is_file() else "(no log)"
    raise ServersError(f"{what} did not start listening on port {port} within {within:g} s; its log ends:\n{tail}")


# -- who runs them ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunAs:
    """The user the database servers run as: ourselves, or (as root) an unprivileged system user."""

    user: str | None

    @classmethod
    def here(cls) -> RunAs:
        if os.geteuid() != 0:
            return cls(None)
        user = os.environ.get("MINICLUSTER_SERVER_USER")
        if not user:
            import pwd

            names = {p.pw_name for p in pwd.getpwall()}
            user = "postgres" if "postgres" in names else "nobody"
        return cls(user)

    def command(self, argv: list[str]) -> list[str]:
        if self.user is None:
            return argv
        runuser = shutil.which("runuser")
        return [runuser, "-u", self.user, "--", *argv] if runuser else ["su", self.user, "-s", "/bin/sh", "-c",
                                                                        " ".join(map(_quote, argv))]  # fmt: skip

    def own(self, path: Path) -> None:
        if self.user is not None:
            shutil.chown(path, self.user)


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(str(arg))


def _run(argv: list[str], what: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise ServersError(f"{what} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-800:]}")
    return done.stdout


# -- up / status / down -----------------------------------------------------------------------------
def _state() -> dict:
    path = config_path()
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _save(state: dict) -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid(path: Path, within: float = 5.0) -> int:
    """The process id a daemon writes to ``path`` (it may write it just after it starts listening)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return int(path.read_text().replace("\0", " ").split()[0])  # Pgpool-II ends its pid with a NUL
        except (OSError, ValueError, IndexError):
            if time.monotonic() > deadline:
                raise ServersError(f"{path} holds no process id {within:g} s after the server started") from None
        time.sleep(0.02)  # polling a file another process writes: nothing to wait on but time


def up(which: tuple[str, ...] = ("redis", "postgres", "pgbouncer")) -> dict:
    """Start the servers named in ``which`` (PgBouncer needs PostgreSQL) that are not running yet; returns
    the saved config. Every program is looked for first, so a missing one is reported before anything starts."""
    unknown = set(which) - {"redis", "postgres", "pgbouncer"}
    if unknown:
        raise ServersError(f"no server named {sorted(unknown)[0]!r}: choose from redis, postgres, pgbouncer")
    if "pgbouncer" in which and "postgres" not in which and "postgres" not in _state().get("started", {}):
        raise ServersError("pgbouncer sits in front of PostgreSQL: start postgres too")
    for server in which:
        program(server)
    state = _state()
    started = state.setdefault("started", {})
    home = Path(started.get("home") or tempfile.mkdtemp(prefix="minicluster-servers-"))
    started["home"] = str(home)
    run_as = RunAs.here()
    run_as.own(home)
    try:
        if "redis" in which and not _running(started.get("redis")):
            state["redis_url"], started["redis"] = _redis_up(home)
        if "postgres" in which and not _running(started.get("postgres")):
            state["postgres_dsn"], started["postgres"] = _postgres_up(home, run_as)
        if "pgbouncer" in which and not _running(started.get("pgbouncer")):
            state["pgbouncer_dsn"], started["pgbouncer"] = _pgbouncer_up(home, run_as, started["postgres"]["port"])
    finally:
        _save(state)
    return state


def _redis_up(home: Path) -> tuple[str, dict]:
    folder = home / "redis"
    folder.mkdir(exist_ok=True)
    port = free_port()
    argv = [str(program("redis")), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
            "--daemonize", "yes", "--pidfile", str(folder / "redis.pid"), "--logfile", str(folder / "redis.log"),
            "--save", "", "--appendonly", "no", "--protected-mode", "no"]  # fmt: skip
    _run(argv, "redis-server")
    _wait_listening(port, "redis-server", folder / "redis.log")
    return f"redis://127.0.0.1:{port}/0", {"port": port, "pid": _pid(folder / "redis.pid"), "dir": str(folder)}


def _running(info: dict | None) -> bool:
    """Whether a server ``up`` started is still there: its port answers."""
    return bool(info) and _listening(info["port"])


def _postgres_up(home: Path, run_as: RunAs) -> tuple[str, dict]:
    bindir = postgres_bindir()
    data, log = home / "pgdata", home / "postgres.log"
    if not (data / "PG_VERSION").is_file():
        _run(run_as.command([str(bindir / "initdb"), "-D", str(data), "-U", ROLE, "--auth=trust", "-E", "UTF8",
                             "--no-locale", "--no-sync"]), "initdb")  # fmt: skip
    port = free_port()
    options = " ".join([
        f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c max_connections=200",
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",  # a test server: speed over durability
        "-c wal_level=replica -c max_wal_senders=10",  # replicas may stream from it
    ])  # fmt: skip
    _run(run_as.command([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
         "pg_ctl start")  # fmt: skip
    _wait_listening(port, "PostgreSQL", log)
    return f"postgresql://{ROLE}@127.0.0.1:{port}/postgres", {"port": port, "data": str(data), "user": run_as.user}


def _pgbouncer_up(home: Path, run_as: RunAs, pg_port: int) -> tuple[str, dict]:
    folder = home / "pgbouncer"
    folder.mkdir(exist_ok=True)
    run_as.own(folder)
    port = free_port()
    # Trust authentication, but PgBouncer still wants every user listed: the admin and the nodes' role.
    (folder / "userlist.txt").write_text(f'"{ROLE}" ""\n"minicluster_app" ""\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host=127.0.0.1 port={pg_port}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'userlist.txt'}\n"
        "pool_mode = transaction\nmax_client_conn = 1000\ndefault_pool_size = 10\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        f"logfile = {folder / 'pgbouncer.log'}\npidfile = {folder / 'pgbouncer.pid'}\n"
    )
    for f in (ini, folder / "userlist.txt"):
        run_as.own(f)
    _run(run_as.command([str(program("pgbouncer")), "-d", str(ini)]), "pgbouncer")
    _wait_listening(port, "PgBouncer", folder / "pgbouncer.log")
    return (f"postgresql://{ROLE}@127.0.0.1:{port}/postgres",
            {"port": port, "pid": _pid(folder / "pgbouncer.pid"), "dir": str(folder)})  # fmt: skip


def status() -> list[dict]:
    """One row per server of the config: where it is, whether this machine started it, whether it answers."""
    state, rows = _state(), []
    started = state.get("started", {})
    for server, key in (("redis", "redis_url"), ("postgres", "postgres_dsn"), ("pgbouncer", "pgbouncer_dsn")):
        url = settings().get(key)
        info = started.get(server)
        answering = bool(info) and _listening(info["port"]) if info else (url is not None and _answers(url))
        rows.append({"server": server, "url": url or "-", "started here": bool(info), "answering": answering})
    return rows


def _answers(url: str) -> bool:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    with contextlib.suppress(OSError, ValueError):
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), timeout=0.5):
            return True
    return False


def down() -> list[str]:
    """Stop every server ``up`` started and remove their data; returns what was stopped."""
    state = _state()
    started = state.get("started", {})
    stopped = []
    pgb = started.get("pgbouncer")
    if pgb:
        _stop_pid(pgb.get("pid"), "pgbouncer")
        stopped.append("pgbouncer")
    pg = started.get("postgres")
    if pg:
        if _listening(pg["port"]) or Path(pg["data"], "postmaster.pid").is_file():
            run_as = RunAs(pg.get("user"))
            _run(run_as.command([str(postgres_bindir() / "pg_ctl"), "-D", pg["data"], "-m", "immediate", "-w",
                                 "stop"]), "pg_ctl stop")  # fmt: skip
        stopped.append("postgres")
    redis = started.get("redis")
    if redis:
        _stop_pid(redis.get("pid"), "redis-server")
        stopped.append("redis")
    if started.get("home"):
        shutil.rmtree(started["home"], ignore_errors=True)
    for key in ("redis_url", "postgres_dsn", "pgbouncer_dsn", "started"):
        state.pop(key, None)
    path = config_path()
    if state:
        _save(state)
    elif path.is_file():
        path.unlink()
    return stopped


def _stop_pid(pid: int | None, what: str, within: float = 10.0) -> None:
    if not _alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + within
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)  # waiting for another process to exit: nothing to wait on but time
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        raise ServersError(f"{what} (pid {pid}) did not stop within {within:g} s: killed")
