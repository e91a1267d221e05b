"""The TLS context of ``serve --tls-cert FILE --tls-key FILE``.

Loaded once at start-up, before the port is bound, so that a file that cannot be read,
is not PEM, holds an encrypted key or a key that does not belong to the certificate
stops the start with a message naming the flag and the file, instead of failing each
handshake. The files are read by ``cryptography`` (which tells which file is wrong)
and then by the ``ssl`` module (which serves them).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key


class TLSError(Exception):
    """The certificate or the key cannot be used; the message says which and why."""


@dataclass(frozen=True)
class ServerTLS:
    context: ssl.SSLContext
    names: tuple[str, ...]
    """The host names and addresses the certificate is for."""
    not_after: datetime

    def describe(self) -> str:
        names = ", ".join(self.names) or "(no names)"
        return f"certificate for {names}, valid until {self.not_after:%Y-%m-%d %H:%M} UTC"


def load_tls(cert: str, key: str) -> ServerTLS:
    """The server's TLS over the PEM certificate (then its chain) and private key files."""
    leaf = _certificate(cert)
    _check_key(key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise TLSError(
                f"the key in --tls-key {key} does not belong to the certificate in "
                f"--tls-cert {cert}"
            ) from exc
        raise TLSError(f"cannot use --tls-cert {cert} with --tls-key {key}: {exc}") from exc
    return ServerTLS(context, _names(leaf), leaf.not_valid_after_utc)


def _read(flag: str, name: str) -> bytes:
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise TLSError(f"cannot read {flag} {name}: {exc.strerror or exc}") from exc


def _certificate(name: str) -> x509.Certificate:
    try:
        chain = x509.load_pem_x509_certificates(_read("--tls-cert", name))
    except ValueError as exc:
        raise TLSError(
            f"--tls-cert {name} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        ) from exc
    return chain[0]


def _check_key(name: str) -> None:
    try:
        load_pem_private_key(_read("--tls-key", name), password=None)
    except TypeError as exc:  # cryptography's word for "this key needs a password"
        raise TLSError(
            f"the key in --tls-key {name} is encrypted; give it unencrypted "
            "(openssl pkey -in KEY -out PLAIN.key), readable by this user only"
        ) from exc
    except ValueError as exc:
        raise TLSError(
            f"--tls-key {name} holds no PEM private key (-----BEGIN PRIVATE KEY-----)"
        ) from exc


def _names(leaf: x509.Certificate) -> tuple[str, ...]:
    try:
        alternative = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        common = leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        return tuple(str(each.value) for each in common)
    names = alternative.value.get_values_for_type(x509.DNSName)
    addresses = alternative.value.get_values_for_type(x509.IPAddress)
    return (*names, *(str(each) for each in addresses))
