"""TLS options with upsscu's spelling, turned into an :class:`ssl.SSLContext`.

Key and trust stores are PEM files or PKCS#12 (``.p12``/``.pfx``) files; PKCS#12 needs the
``cryptography`` package (``pip install 'aioups[tls]'``).  Java-only choices (SSLv3,
SSLv2Hello, JKS stores) are refused with a one-line message rather than silently ignored.
"""

from __future__ import annotations

import argparse
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from ._usage import UsageError

_PROTOCOLS: Final = {
    "TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
#: upsscu's cipher shortcuts (the DICOM TLS profiles of PS3.15 B.1/B.3) in OpenSSL's names.
_CIPHERS: Final = {
    "--tls-null": "NULL-SHA",
    "--tls-3des": "DES-CBC3-SHA",
    "--tls-aes": "AES128-SHA:DES-CBC3-SHA",
    # IANA names users copy from Java configurations
    "TLS_RSA_WITH_NULL_SHA": "NULL-SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": "DES-CBC3-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
}


def add_tls_options(parser: argparse.ArgumentParser) -> None:
    """upsscu's TLS options, plus PEM shortcuts (``--tls-cert/--tls-key/--tls-cacert``)."""
    g = parser.add_argument_group("TLS")
    g.add_argument("--tls", action="store_true", help="use DICOM over TLS (TLS 1.2 or later)")
    for flag, version in (("--tls13", "TLSv1.3"), ("--tls12", "TLSv1.2"),
                          ("--tls11", "TLSv1.1"), ("--tls1", "TLSv1")):
        g.add_argument(flag, dest="tls_protocol", action="append_const", const=version,
                       help=f"enable only {version}")
    g.add_argument("--tls-protocol", action="append", metavar="PROTOCOL",
                   help="enable this protocol (TLSv1, TLSv1.1, TLSv1.2, TLSv1.3; repeatable)")
    g.add_argument("--ssl3", dest="tls_protocol", action="append_const", const="SSLv3",
                   help="SSLv3 (refused: insecure and unavailable)")
    g.add_argument("--ssl2Hello", dest="tls_protocol", action="append_const",
                   const="SSLv2Hello", help="SSLv2Hello (refused: unavailable)")
    g.add_argument("--tls-cipher", action="append", metavar="CIPHER",
                   help="enable this cipher suite (OpenSSL or IANA name; repeatable)")
    for flag, what in (("--tls-null", "without encryption"), ("--tls-3des", "3DES"),
                       ("--tls-aes", "AES or 3DES")):
        g.add_argument(flag, dest="tls_cipher", action="append_const", const=flag,
                       help=f"TLS {what} (PS3.15 B.1/B.3 profile)")
    g.add_argument("--tls-noauth", action="store_true",
                   help="client: do not verify the peer's certificate; server: do not ask "
                   "for client certificates")
    g.add_argument("--tls-eia-https", action="store_true",
                   help="check the server's host name against its certificate (RFC 2818)")
    g.add_argument("--tls-eia-ldaps", action="store_true",
                   help="check the server's host name against its certificate (RFC 2830)")
    g.add_argument("--key-store", "--tls-cert", dest="key_store", metavar="FILE",
                   help="our certificate chain and key: PEM or PKCS#12")
    g.add_argument("--key-store-type", type=str.upper, metavar="PKCS12|PEM",
                   help="default: from the file name (.p12/.pfx: PKCS12, else PEM)")
    g.add_argument("--key-store-pass", metavar="PASSWORD",
                   help="key store password (aioups-upsscu: 'secret' by default)")
    g.add_argument("--key-pass", metavar="PASSWORD",
                   help="password of the key (default: the key store password)")
    g.add_argument("--tls-key", metavar="PEM", help="our private key, if not in --key-store")
    g.add_argument("--trust-store", "--tls-cacert", dest="trust_store", metavar="FILE",
                   help="trusted CA certificates: PEM or PKCS#12 (default: the system's)")
    g.add_argument("--trust-store-type", type=str.upper, metavar="PKCS12|PEM")
    g.add_argument("--trust-store-pass", metavar="PASSWORD", help="trust store password")


def tls_requested(args: argparse.Namespace) -> bool:
    for option in ("key_store_type", "trust_store_type"):
        kind = getattr(args, option)
        if kind not in (None, "PKCS12", "PEM"):
            raise UsageError(f"--{option.replace('_', '-')} {kind}: only PKCS12 and PEM stores "
                             "are supported (convert JKS with keytool -importkeystore)")
    return bool(args.tls or args.tls_protocol or args.tls_cipher or args.key_store)


def _is_pkcs12(path: str, declared: str | None) -> bool:
    return declared == "PKCS12" if declared else Path(path).suffix.lower() in (".p12", ".pfx")


def _load_pkcs12(path: str, password: str | None) -> tuple[bytes, bytes, list[bytes]]:
    """(key PEM, certificate PEM, other certificates PEM) from a PKCS#12 file."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12
    except ImportError:
        raise UsageError(f"{path}: reading PKCS#12 needs the 'cryptography' package "
                         "(pip install cryptography), or give PEM files") from None
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read PKCS#12 file {path}: {exc.strerror}") from None
    for secret in dict.fromkeys((password, None)):  # also try without: unprotected stores
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(
                data, secret.encode() if secret else None)
            break
        except ValueError as exc:
            error = exc
    else:
        raise UsageError(f"cannot read PKCS#12 file {path}: {error}") from None
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()) if key is not None else b""
    cert_pem = cert.public_bytes(pem) if cert is not None else b""
    return key_pem, cert_pem, [c.public_bytes(pem) for c in extra]


@contextmanager
def _pem_file(data: bytes) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="aioups-tls-") as folder:
        path = Path(folder) / "chain.pem"
        path.write_bytes(data)
        path.chmod(0o600)
        yield str(path)


def _load_identity(ctx: ssl.SSLContext, args: argparse.Namespace) -> None:
    store = args.key_store
    if _is_pkcs12(store, args.key_store_type):
        key, cert, extra = _load_pkcs12(store, args.key_store_pass)
        if not key or not cert:
            raise UsageError(f"{store}: no private key and certificate in it")
        with _pem_file(cert + b"".join(extra) + key) as chain:
            ctx.load_cert_chain(chain)
        return
    ctx.load_cert_chain(store, args.tls_key, password=args.key_pass or args.key_store_pass)


def _load_trust(ctx: ssl.SSLContext, args: argparse.Namespace) -> None:
    store = args.trust_store
    if _is_pkcs12(store, args.trust_store_type):
        _, cert, extra = _load_pkcs12(store, args.trust_store_pass)
        certificates = [c for c in (cert, *extra) if c]
        if not certificates:
            raise UsageError(f"{store}: no certificates in it")
        ctx.load_verify_locations(cadata=b"".join(certificates).decode("ascii"))
    else:
        ctx.load_verify_locations(cafile=store)


def _versions(ctx: ssl.SSLContext, protocols: list[str]) -> None:
    unknown = [p for p in protocols if p not in _PROTOCOLS]
    if unknown:
        raise UsageError(f"TLS protocol {unknown[0]} is not supported "
                         f"(choose from {', '.join(_PROTOCOLS)})")
    chosen = sorted(_PROTOCOLS[p] for p in protocols)
    try:
        ctx.minimum_version, ctx.maximum_version = chosen[0], chosen[-1]
    except (ValueError, ssl.SSLError) as exc:
        raise UsageError(f"cannot enable {', '.join(protocols)}: {exc}") from None


def ssl_context_from(args: argparse.Namespace, *, server: bool) -> ssl.SSLContext | None:
    """The SSL context the TLS options ask for, or ``None`` without TLS."""
    if not tls_requested(args):
        return None
    purpose = ssl.Purpose.CLIENT_AUTH if server else ssl.Purpose.SERVER_AUTH
    try:
        ctx = ssl.create_default_context(purpose)
        _versions(ctx, args.tls_protocol or ["TLSv1.2", "TLSv1.3"])
        if args.tls_cipher:
            names = [_CIPHERS.get(c, c) for c in args.tls_cipher]
            ctx.set_ciphers(":".join(names))
        if args.trust_store:
            _load_trust(ctx, args)
        if args.key_store:
            _load_identity(ctx, args)
    except ssl.SSLError as exc:
        raise UsageError(f"cannot set up TLS: {getattr(exc, 'reason', None) or exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot set up TLS: {exc.strerror or exc}: "
                         f"{exc.filename or ''}") from None
    if server:
        ctx.verify_mode = ssl.CERT_NONE if args.tls_noauth or not args.trust_store \
            else ssl.CERT_REQUIRED
    elif args.tls_noauth:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        # DICOM nodes are known by certificate, not by DNS name, unless asked (upsscu default)
        ctx.check_hostname = bool(args.tls_eia_https or args.tls_eia_ldaps)
    return ctx
