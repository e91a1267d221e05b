"""TLS for tests: a certificate authority made at test time (trustme), server
certificates it signs, and ``engactivity serve`` over HTTPS with them."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

from tests.conftest import PG_WORKERS, Server, free_port

LIVEPERSON_NAMES = ("api.liveperson.net", "va.data.liveperson.net")
"""Names clients of the hosted API resolve: domain discovery, then the methods' host."""


@dataclass(frozen=True)
class Authority:
    """A test CA: ``ca_file`` is what a client is told to trust."""

    ca: trustme.CA
    ca_file: Path

    def issue(self, folder: Path, *names: str) -> tuple[Path, Path]:
        """A certificate for ``names`` (and its key) as PEM files: (cert, key)."""
        leaf = self.ca.issue_cert(*names)
        cert, key = folder / "cert.pem", folder / "key.pem"
        cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(key))
        return cert, key

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


def new_authority(folder: Path) -> Authority:
    ca = trustme.CA()
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return Authority(ca, ca_file)


class TLSServer(Server):
    """``serve --tls-cert --tls-key`` on ``port`` (https) and ``--http-port`` (plain)."""

    def __init__(
        self,
        tmp: Path,
        authority: Authority,
        engine: str = "sqlite",
        extra_args: list[str] | None = None,
        workers: int = PG_WORKERS,
    ) -> None:
        cert, key = authority.issue(tmp, "127.0.0.1", "localhost", *LIVEPERSON_NAMES)
        self.http_port = free_port()
        tls = ["--tls-cert", str(cert), "--tls-key", str(key), "--http-port", str(self.http_port)]
        super().__init__(
            tmp, extra_args=[*tls, *(extra_args or [])], engine=engine, workers=workers
        )
        self.base_url = f"https://127.0.0.1:{self.port}"
        self.plain_url = f"http://127.0.0.1:{self.http_port}"
        self.verify = authority.client_context()
