"""The AE directory: where to reach each Receiving AE of a UPS subscription (UPS-63).

A JSON or TOML file maps each AE title either to ``"host:port"`` or to a table::

    # ae-directory.toml
    MONITOR = "127.0.0.1:11115"

    [WORKSTATION1]
    host = "ws1.example.org"
    port = 11112
    tls = true                  # optional: DICOM over TLS
    ca_file = "ca.pem"          # optional: trust store (PEM); relative to this file
    cert_file = "scp.pem"       # optional: our certificate and key, for mutual TLS
    key_file = "scp.key"
    server_hostname = "ws1"     # optional: name to verify in the peer's certificate
"""

from __future__ import annotations

import json
import ssl
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, final

from ..errors import ConfigurationError

_TABLE_KEYS = frozenset(
    ("host", "port", "tls", "ca_file", "cert_file", "key_file", "server_hostname"))


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class AEAddress:
    """How to reach one AE."""

    host: str
    port: int
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_hostname: str | None = None

    def __post_init__(self) -> None:
        if not self.host or not 0 < self.port < 65536:
            raise ConfigurationError(f"invalid address {self.host}:{self.port}")

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client TLS context for this AE, or ``None`` without TLS."""
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file is not None:
            context.load_cert_chain(self.cert_file, self.key_file)
        if self.server_hostname is None:
            context.check_hostname = False
        return context


def parse_address(text: str) -> tuple[str, int]:
    """``"host:port"`` (``"[v6]:port"`` for IPv6) -> ``(host, port)``.

    Raises:
        ConfigurationError: not of that form, or the port is out of range.
    """
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"{text!r} is not host:port")
    return host, int(port)


def _entry(title: str, value: Any, base: Path | None) -> AEAddress:
    if isinstance(value, str):
        host, port = parse_address(value)
        return AEAddress(host=host, port=port)
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"AE {title!r}: expected \"host:port\" or a table")
    unknown = set(value) - _TABLE_KEYS
    if unknown:
        raise ConfigurationError(f"AE {title!r}: unknown keys {sorted(unknown)}")
    host_value, port_value = value.get("host"), value.get("port")
    if not isinstance(host_value, str) or not host_value or not isinstance(port_value, int) \
            or isinstance(port_value, bool) or not 0 < port_value < 65536:
        raise ConfigurationError(f"AE {title!r}: needs a host (string) and a port (1-65535)")
    files = {}
    for key in ("ca_file", "cert_file", "key_file"):
        name = value.get(key)
        if name is not None and not isinstance(name, str):
            raise ConfigurationError(f"AE {title!r}: {key} must be a path")
        files[key] = None if name is None else str(base / name if base else Path(name))
    tls, server_hostname = value.get("tls", False), value.get("server_hostname")
    if not isinstance(tls, bool) or not isinstance(server_hostname, str | None):
        raise ConfigurationError(f"AE {title!r}: tls must be true/false, server_hostname text")
    return AEAddress(host=host_value, port=port_value, tls=tls, server_hostname=server_hostname,
                     **files)


def parse_ae_directory(data: Mapping[str, Any], base: Path | None = None) -> dict[str, AEAddress]:
    """Validate a decoded directory (AE title -> entry); AE titles are stripped (UL-11).

    Raises:
        ConfigurationError: an entry is malformed or an AE title is invalid.
    """
    out = {}
    for title, value in data.items():
        name = title.strip()
        if not name or len(name) > 16 or "\\" in name or not name.isprintable():
            raise ConfigurationError(f"{title!r} is not a valid AE title")
        out[name] = _entry(name, value, base)
    return out


def load_ae_directory(path: str | Path) -> dict[str, AEAddress]:
    """Read an AE directory file: TOML if it ends in ``.toml``, JSON otherwise.

    Raises:
        ConfigurationError: the file cannot be read or parsed, or an entry is malformed.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigurationError(f"cannot read AE directory {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"AE directory {path}: expected a mapping of AE titles")
    return parse_ae_directory(data, path.parent)
