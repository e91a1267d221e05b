"""PostgreSQL 15: a primary and a synchronous streaming replica, each in its namespace
(the scale test) or both on loopback ports (the balanced test topology, tests/replicated.py).

Both run as the ``postgres`` user from data folders under the run's temporary folder
(never the machine's own clusters: their own ports' sockets live in those folders
too). The primary waits for the replica to flush every commit
(``synchronous_standby_names``), so a batch acknowledged with 200 is on both.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from bench.multihost.topology import SUBNET, address, inside

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PORT = 5432
REPLICA_NAME = "eas_replica"
ROLE, PASSWORD, DATABASE = "engactivity", "eas-scale-test", "engactivity"
_REPLICATOR, _REPLICATOR_PASSWORD = "replicator", "eas-replication"


def store_url(nodes: list[Node], session: str = "read-write") -> str:
    """A libpq multi-host URL: the first of ``nodes`` whose session is of the kind
    ``session`` (``target_session_attrs``: read-write, any, standby ...)."""
    where = ",".join(f"{node.listen}:{node.port}" for node in nodes)
    return f"postgresql://{ROLE}:{PASSWORD}@{where}/{DATABASE}?target_session_attrs={session}"


class Node:
    def __init__(self, host: str, root: Path, loopback_port: int | None = None) -> None:
        """``host``'s server, in the namespace of that name; or, given ``loopback_port``,
        in this machine's own network on 127.0.0.1 at that port."""
        self.host = host
        self.folder = root / host
        self.data = self.folder / "data"
        self.namespaced = loopback_port is None
        self.listen = address(host) if loopback_port is None else "127.0.0.1"
        self.port = PORT if loopback_port is None else loopback_port
        self.network = f"{SUBNET}.0/24" if loopback_port is None else "127.0.0.1/32"

    def _as_postgres(self, *argv: str | Path) -> list[str]:
        command = ["runuser", "-u", "postgres", "--", *map(str, argv)]
        return inside(self.host, *command) if self.namespaced else command

    def _run(self, *argv: str | Path) -> str:
        done = subprocess.run(self._as_postgres(*argv), capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{self.host}: {argv[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def _make_folder(self) -> None:
        self.folder.mkdir(parents=True)
        shutil.chown(self.folder, "postgres", "postgres")

    def _configure(self, settings: dict[str, str]) -> None:
        # appended lines win over those before (a replica's copy of the primary's)
        lines = "".join(f"{key} = '{value}'\n" for key, value in settings.items())
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(lines)

    def ctl(self, *args: str) -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.data, *args)

    def start(self) -> None:
        self.ctl("-l", str(self.folder / "postgres.log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self.ctl("-m", mode, "-w", "stop")

    def promote(self) -> None:
        self.ctl("-w", "promote")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def psql(self, sql: str, database: str = "postgres") -> str:
        argv = ("-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", self.folder, "-p", str(self.port))
        argv += ("-d", database)
        return self._run(PG_BIN / "psql", *argv, "-c", sql).strip()

    def common_settings(self) -> dict[str, str]:
        return {
            "listen_addresses": self.listen,
            "port": str(self.port),
            "unix_socket_directories": str(self.folder),
        }

    def make_primary(self) -> None:
        self._make_folder()
        self._run(PG_BIN / "initdb", "-D", self.data, "-A", "peer", "--auth-host=scram-sha-256")
        self._configure(self.common_settings())
        with (self.data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {self.network} scram-sha-256\n")
            hba.write(f"host replication {_REPLICATOR} {self.network} scram-sha-256\n")
        self.start()
        # CREATEDB: the test suites make a database per test server
        self.psql(f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'")
        self.psql(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        self.psql(f"CREATE ROLE {_REPLICATOR} REPLICATION LOGIN PASSWORD '{_REPLICATOR_PASSWORD}'")
        # Only now: with it, every commit waits for the replica, which comes next.
        self._configure({"synchronous_standby_names": f"FIRST 1 ({REPLICA_NAME})"})
        self.ctl("reload")

    def make_replica_of(self, primary: Node) -> None:
        self._make_folder()
        source = (
            f"host={primary.listen} port={primary.port} user={_REPLICATOR} "
            f"password={_REPLICATOR_PASSWORD} application_name={REPLICA_NAME}"
        )
        # -R writes primary_conninfo (with application_name) and standby.signal; a fast
        # checkpoint, or the copy waits for a spread one (minutes)
        self._run(
            PG_BIN / "pg_basebackup",
            "-d",
            source,
            "-D",
            self.data,
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        )
        # Promoted, it has no standby of its own: it must not wait for one.
        self._configure({**self.common_settings(), "synchronous_standby_names": ""})
        self.start()
        deadline = time.monotonic() + 60
        query = (
            f"SELECT sync_state FROM pg_stat_replication WHERE application_name = '{REPLICA_NAME}'"
        )
        while primary.psql(query) != "sync":
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not become synchronous")
            time.sleep(0.2)
