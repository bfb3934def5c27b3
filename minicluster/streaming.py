"""Stage 4 on real PostgreSQL: a primary and replicas made with ``pg_basebackup``, streaming its WAL.

:class:`PostgresGroup` starts, on this machine, a PostgreSQL primary of its own and ``replicas`` streaming
replicas (``pg_basebackup -R``, hot standby), each on a free port in a temporary folder, and stops and
removes them on :meth:`~PostgresGroup.close`. Its members offer what stage 4's exercises read from a
member (``name``, ``is_up``, ``reachable``, ``applied_lsn``, ``lag_seconds``), measured by the server:
``pg_current_wal_lsn()`` on the primary, ``pg_last_wal_replay_lsn()`` on a replica, the primary's
``pg_stat_replication`` for the lag. So the learner's ``ReadYourWrites`` router and
``choose_new_primary`` run unchanged against real streaming replication (see :mod:`minicluster.real`).

Faults are real too: :meth:`~PostgresGroup.crash` stops a server at once (``pg_ctl stop -m immediate``,
what a power cut does), :meth:`~PostgresGroup.cut` stops a replica's streaming (its ``primary_conninfo``
emptied: a network partition from the primary) and :meth:`~PostgresGroup.promote` runs ``pg_promote()``
and points the other replicas at the new primary.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from .errors import ConfigError
from .servers import ROLE, RunAs, _run, _stop_pid, _wait_listening, free_port, postgres_bindir


class StreamingMember:
    """One server of a :class:`PostgresGroup`, read as stage 4's exercises read a member."""

    def __init__(self, group: PostgresGroup, name: str, data: Path, port: int) -> None:
        self.group, self.name, self.data, self.port = group, name, data, port
        self.is_up = True
        #: Whether the failover manager can reach it (the group cuts only replication, not this).
        self.reachable = True
        self.dsn = f"postgresql://{ROLE}@127.0.0.1:{port}/postgres"
        self._local = threading.local()

    def connection(self):
        """This thread's connection to the member (autocommit)."""
        import psycopg

        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._local.conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=2)
            self.group._opened(conn)
        return conn

    def query(self, sql: str, params=None):
        if not self.is_up:
            raise ConnectionError(f"{self.name} is down")
        cursor = self.connection().execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []

    @property
    def node(self) -> StreamingMember:
        """Itself: what the library's routers read ``is_up`` from (``member.node.is_up``)."""
        return self

    @property
    def is_primary(self) -> bool:
        return self is self.group.primary

    @property
    def applied_lsn(self) -> int:
        """How far this member has applied the log: the primary's current WAL position, a replica's replay
        position (bytes since the start of the WAL)."""
        if not self.is_up:
            return self.group._last_applied.get(self.name, 0)
        function = "pg_current_wal_lsn()" if self.is_primary else "pg_last_wal_replay_lsn()"
        value = int(self.query(f"SELECT {function} - '0/0'::pg_lsn")[0][0] or 0)
        self.group._last_applied[self.name] = value
        return value

    @property
    def lag_seconds(self) -> float:
        """The primary's view of this replica's replay lag (``pg_stat_replication.replay_lag``), 0 if none."""
        if self.is_primary or not self.group.primary.is_up:
            return 0.0
        rows = self.group.primary.query(
            "SELECT coalesce(extract(epoch FROM replay_lag), 0) FROM pg_stat_replication WHERE application_name = %s",
            [self.name],
        )
        return float(rows[0][0]) if rows else 0.0

    def __repr__(self) -> str:
        return f"<{self.name} {'primary' if self.is_primary else 'replica'} {'up' if self.is_up else 'down'}>"


class PostgresGroup:
    """A primary and ``replicas`` streaming replicas of its own (see the module's docstring).

    ``apply_delay_ms``: each replica's ``recovery_min_apply_delay`` (a lag that is real: the replica has
    the WAL and waits that long before applying it)."""

    def __init__(self, *, replicas: int = 2, apply_delay_ms: int = 0) -> None:
        self.bindir = postgres_bindir()
        self.run_as = RunAs.here()
        self.home = Path(tempfile.mkdtemp(prefix="minicluster-replication-"))
        self.run_as.own(self.home)
        self._connections: list = []
        self._lock = threading.Lock()
        self._last_applied: dict[str, int] = {}
        self.members: list[StreamingMember] = []
        try:
            self.primary = self._start_primary()
            self.members.append(self.primary)
            self.primary.query("CREATE TABLE kv (key BIGINT PRIMARY KEY, value TEXT)")
            for i in range(1, replicas + 1):
                self.members.append(self._start_replica(f"replica{i}", apply_delay_ms))
            self._wait_streaming(replicas)
        except BaseException:
            self.close()
            raise

    @property
    def replicas(self) -> list[StreamingMember]:
        return [m for m in self.members if m is not self.primary]

    def _opened(self, conn) -> None:
        with self._lock:
            self._connections.append(conn)

    def _pg_ctl(self, member_or_data, *args: str, what: str) -> None:
        data = member_or_data.data if isinstance(member_or_data, StreamingMember) else member_or_data
        _run(self.run_as.command([str(self.bindir / "pg_ctl"), "-D", str(data), *args]), what)

    def _start(self, name: str, data: Path, port: int, extra: str = "") -> StreamingMember:
        log = self.home / f"{name}.log"
        options = f"-p {port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off {extra}".strip()
        self._pg_ctl(data, "-l", str(log), "-o", options, "-w", "start", what=f"starting {name}")
        _wait_listening(port, name, log)
        return StreamingMember(self, name, data, port)

    def _start_primary(self) -> StreamingMember:
        data = self.home / "primary"
        _run(self.run_as.command([str(self.bindir / "initdb"), "-D", str(data), "-U", ROLE, "--auth=trust",
                                  "-E", "UTF8", "--no-locale", "--no-sync"]), "initdb")  # fmt: skip
        return self._start("primary", data, free_port(), "-c wal_level=replica -c max_wal_senders=10")

    def _start_replica(self, name: str, apply_delay_ms: int) -> StreamingMember:
        data = self.home / name
        _run(self.run_as.command([str(self.bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary.port),
                                  "-U", ROLE, "-D", str(data), "-R", "-X", "stream", "--no-sync"]),
             f"pg_basebackup of {name}")  # fmt: skip
        extra = f"-c hot_standby=on -c cluster_name={name} -c recovery_min_apply_delay={int(apply_delay_ms)}ms"
        return self._start(name, data, free_port(), extra)

    def _wait_streaming(self, replicas: int, within: float = 20.0) -> None:
        pause = threading.Event()
        for _ in range(int(within / 0.05)):
            rows = self.primary.query("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
            if rows[0][0] >= replicas:
                return
            pause.wait(0.05)  # the replicas connect on their own: nothing to wait on but time
        raise ConfigError(f"the replicas were not streaming from the primary after {within:g} s")

    def caught_up(self, within: float = 20.0) -> None:
        """Wait until every running replica has applied all the primary has written so far."""
        target = self.primary.applied_lsn
        pause = threading.Event()
        for _ in range(int(within / 0.02)):
            if all(r.applied_lsn >= target for r in self.replicas if r.is_up):
                return
            pause.wait(0.02)  # the replicas apply on their own: nothing to wait on but time
        raise ConfigError(f"the replicas had not applied the primary's log up to {target} after {within:g} s")

    # -- faults and failover --------------------------------------------------------------------------
    def crash(self, member: StreamingMember) -> None:
        """Stop ``member``'s server at once, as a power cut would (no shutdown checkpoint)."""
        self._last_applied[member.name] = self._last_applied.get(member.name, 0)
        member.is_up = False
        self._pg_ctl(member, "-m", "immediate", "-w", "stop", what=f"crashing {member.name}")

    def cut(self, replica: StreamingMember) -> None:
        """Stop ``replica`` streaming from the primary (a partition between them); it keeps serving reads."""
        replica.query("ALTER SYSTEM SET primary_conninfo = ''")
        replica.query("SELECT pg_reload_conf()")
        pause = threading.Event()
        for _ in range(400):  # until the primary no longer streams to it: then the cut is in force
            rows = self.primary.query("SELECT count(*) FROM pg_stat_replication WHERE application_name = %s",
                                      [replica.name])  # fmt: skip
            if rows[0][0] == 0:
                return
            pause.wait(0.05)  # the walreceiver stops on its own: nothing to wait on but time
        raise ConfigError(f"{replica.name} still streams from the primary 20 s after its conninfo was emptied")

    def promote(self, replica: StreamingMember) -> None:
        """``pg_promote()`` on ``replica``: it becomes the primary; the other replicas that are up follow it."""
        if replica not in self.replicas or not replica.is_up:
            raise ConfigError(f"{replica.name} is not a running replica of this group")
        replica.query("SELECT pg_promote(wait => true)")
        self.primary = replica
        for other in self.replicas:
            if other.is_up:
                conninfo = f"host=127.0.0.1 port={replica.port} user={ROLE} application_name={other.name}"
                other.query(f"ALTER SYSTEM SET primary_conninfo = '{conninfo}'")
                other.query("SELECT pg_reload_conf()")

    # -- Pgpool-II in front ----------------------------------------------------------------------------
    def pgpool(self, **settings: str) -> str:
        """Start a Pgpool-II (streaming-replication mode, load balancing each statement) in front of the
        group: writes go to the primary, reads to the replicas (the primary's weight is 0); ``settings`` are
        more ``pgpool.conf`` lines (e.g. ``disable_load_balance_on_write="'always'"``). Returns its DSN;
        :meth:`close` stops it (and any other started)."""
        from .servers import _missing, _pid

        binary = shutil.which("pgpool") or next((p for p in ("/usr/sbin/pgpool",) if Path(p).is_file()), None)
        if binary is None:
            raise _missing("pgpool", "pgpool (Pgpool-II)")
        self._pgpools = getattr(self, "_pgpools", [])
        folder = self.home / f"pgpool{len(self._pgpools) + 1}"
        folder.mkdir()
        self.run_as.own(folder)
        port, pcp = free_port(), free_port()
        backends = []
        for i, member in enumerate(self.members):
            weight, flag = (
                (0, "ALWAYS_PRIMARY|DISALLOW_TO_FAILOVER") if member.is_primary else (1, "DISALLOW_TO_FAILOVER")
            )
            backends += [f"backend_hostname{i} = '127.0.0.1'", f"backend_port{i} = {member.port}",
                         f"backend_weight{i} = {weight}", f"backend_flag{i} = '{flag}'",
                         f"backend_application_name{i} = '{member.name}'"]  # fmt: skip
        conf = folder / "pgpool.conf"
        conf.write_text("\n".join([
            "backend_clustering_mode = 'streaming_replication'",
            "listen_addresses = '127.0.0.1'", f"port = {port}", f"unix_socket_directories = '{folder}'",
            "pcp_listen_addresses = ''", f"pcp_port = {pcp}", f"pcp_socket_dir = '{folder}'",
            f"pid_file_name = '{folder / 'pgpool.pid'}'", f"logdir = '{folder}'",
            "load_balance_mode = on", "statement_level_load_balance = on", "sr_check_period = 0",
            "health_check_period = 0", "enable_pool_hba = off", "num_init_children = 8", "max_pool = 2",
            *backends, *(f"{name} = {value}" for name, value in settings.items()),
        ]) + "\n")  # fmt: skip
        self.run_as.own(conf)
        (folder / "pcp.conf").write_text("")
        self.run_as.own(folder / "pcp.conf")
        _run(self.run_as.command([binary, "-f", str(conf), "-F", str(folder / "pcp.conf")]), "pgpool")
        _wait_listening(port, "Pgpool-II", folder / "pgpool.log")
        self._pgpools.append(_pid(folder / "pgpool.pid"))
        return f"postgresql://{ROLE}@127.0.0.1:{port}/postgres"

    def close(self) -> None:
        """Stop every server of the group (and Pgpool-II) and remove its folder."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        for pid in getattr(self, "_pgpools", []):
            _stop_pid(pid, "pgpool")
        for member in self.members:
            if member.is_up:
                try:
                    self._pg_ctl(member, "-m", "immediate", "-w", "stop", what=f"stopping {member.name}")
                except Exception:  # stopping what is left is best effort; the folder goes anyway
                    pass
                member.is_up = False
        shutil.rmtree(self.home, ignore_errors=True)

    def __enter__(self) -> PostgresGroup:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
