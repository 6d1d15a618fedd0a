"""Signing and verifying an audit bundle: the PDF report and a signed manifest of every file.

Why two signatures:

- The PDF report carries an embedded PAdES signature (pyHanko), so a reader who
  only receives ``report.pdf`` can check it in any PDF viewer. It is written as an
  incremental update that keeps a WeasyPrint PDF/A-3b file PDF/A-3b.
- The whole bundle (HTML report, ``audit.json``, figures, the PDF, the signer's
  certificate) is listed in ``manifest.json`` with SHA-256 hashes, and
  ``manifest.json`` is signed as detached CMS/PKCS#7 (``manifest.sig``), which
  anyone can check without this tool::

      openssl cms -verify -binary -inform DER -in manifest.sig \\
          -content manifest.json -CAfile signer-cert.pem -out /dev/null

  (use the certificate you trust instead of the bundle's own copy for a real check).

:func:`generate_keypair` makes a self-signed TEST key and certificate accepted by
both pyHanko and ``openssl cms -verify`` (also without ``-purpose any``).
:func:`verify_bundle` re-checks everything in Python, without openssl, and names
the file behind each problem; changing any single byte of any file in a sealed
bundle makes it fail.

pyHanko costs about 0.7 s to import, so it is imported inside the functions that
need it; nothing is computed at import time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import stat
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from audit.errors import (
    BUNDLE_NOT_FOUND,
    FILE_NOT_FOUND,
    KEY_EXISTS,
    KEY_LOAD_FAILED,
    PDF_SIGN_FAILED,
    SIGNING_CERT_EXPIRED,
    SIGNING_CERT_NOT_YET_VALID,
    SIGNING_KEY_MISMATCH,
    SIGNING_KEY_PASSWORD_MISSING,
    SIGNING_KEY_PASSWORD_WRONG,
    AuditInputError,
)

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

__all__ = [
    "MANIFEST_NAME",
    "MANIFEST_SIG_NAME",
    "MANIFEST_VERSION",
    "SIGNER_CERT_NAME",
    "REPORT_PDF_NAME",
    "KEY_PASSWORD_ENV",
    "VerifyReport",
    "check_signing_material",
    "generate_keypair",
    "sign_pdf",
    "hash_file",
    "write_manifest",
    "sign_manifest",
    "seal_bundle",
    "verify_bundle",
    "describe_certificate",
]

MANIFEST_NAME = "manifest.json"
MANIFEST_SIG_NAME = "manifest.sig"
SIGNER_CERT_NAME = "signer-cert.pem"
REPORT_PDF_NAME = "report.pdf"
MANIFEST_VERSION = "1"
# The signing key's password, when the key is encrypted: from the environment only, never from the spec.
KEY_PASSWORD_ENV = "AUDIT_KEY_PASSWORD"

_PDF_FIELD_NAME = "AuditSignature"
_T = TypeVar("_T")
_CHUNK = 1 << 20
# Loggers that print full tracebacks for an untrusted signer or a damaged file;
# verification reports those as problems instead.
_NOISY_LOGGERS = ("pyhanko", "pyhanko_certvalidator", "fontTools", "asn1crypto")


@dataclass
class VerifyReport:
    """Outcome of :func:`verify_bundle`.

    ``ok`` is True only when ``problems`` is empty. Each problem starts with the
    bundle-relative path of the file it concerns (``"report.html: ..."``) so a
    reader knows which file to look at; ``checks`` lists what passed, in plain
    words; ``signer`` names the certificate that signed the manifest (subject CN
    and SHA-256 fingerprint), or is empty when the signature could not be read.
    """

    ok: bool
    problems: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    signer: str = ""


# ---------------------------------------------------------------------------
# Keys and certificates


def generate_keypair(
    *,
    key_path: Path,
    cert_path: Path,
    common_name: str,
    organisation: str | None = None,
    days: int = 825,
    overwrite: bool = False,
) -> None:
    """Write a self-signed TEST signing key (RSA 3072, PEM, unencrypted, mode 0600) and its certificate.

    Meant for trying the tool and for tests: a real audit should be signed with a
    key whose certificate the recipient already trusts. The certificate is its
    own root (``basicConstraints CA:TRUE``) with ``keyUsage`` digitalSignature,
    nonRepudiation and keyCertSign, which is what pyHanko (it wants
    nonRepudiation) and ``openssl cms -verify`` (S/MIME signing purpose, the
    default) both accept. There is deliberately no extendedKeyUsage: openssl does
    not need one and an EKU would restrict what PDF validators accept.
    RSA rather than EC because pyHanko marks an ECDSA-signed PDF as PDF 2.0
    (ISO/TS 32002), which a PDF/A-3 file must not claim to be.

    Existing files are never replaced unless ``overwrite`` is True, because
    overwriting a key loses it for good.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key_path = Path(key_path)
    cert_path = Path(cert_path)
    if not overwrite:
        for path, what in ((key_path, "key"), (cert_path, "certificate")):
            if path.exists():
                raise AuditInputError(KEY_EXISTS, path=path, what=what)
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")

    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organisation:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    name = x509.Name(attributes)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    public_key = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # a little slack for clocks that are slightly behind
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key_path.parent.mkdir(parents=True, exist_ok=True)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(key_path, flags, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key_pem)
    os.chmod(key_path, 0o600)  # an overwritten file keeps its old mode otherwise
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _load_cert(path: Path) -> x509.Certificate:
    """Read a PEM or DER certificate; a missing or malformed file is the user's to fix."""
    from cryptography import x509

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditInputError(KEY_LOAD_FAILED, path=path, what="certificate", problem=exc.strerror or exc) from exc
    try:
        if b"-----BEGIN" in data:
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
        describe_certificate(cert)  # cryptography parses the subject lazily: fail here, not later
        cert.public_key()
        return cert
    except ValueError as exc:
        problem = f"not a PEM or DER X.509 certificate ({exc})"
        raise AuditInputError(KEY_LOAD_FAILED, path=path, what="certificate", problem=problem) from exc


def _load_key(path: Path) -> PrivateKeyTypes:
    """Read a PEM or DER private key; an encrypted one is opened with the password in ``AUDIT_KEY_PASSWORD``.

    The password never comes from the spec (a file that is shared and kept with
    the bundle's inputs); only from the environment of the process that signs.
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditInputError(KEY_LOAD_FAILED, path=path, what="key", problem=exc.strerror or exc) from exc
    load = serialization.load_pem_private_key if b"-----BEGIN" in data else serialization.load_der_private_key
    try:
        return load(data, password=None)
    except TypeError:
        pass  # encrypted: the password comes from the environment, below
    except (ValueError, UnsupportedAlgorithm) as exc:
        if b"-----BEGIN CERTIFICATE-----" in data:
            problem = "it holds a certificate, not a private key (are key and certificate swapped?)"
        else:
            problem = f"not a PEM or DER private key ({_first_sentence(exc)})"
        raise AuditInputError(KEY_LOAD_FAILED, path=path, what="key", problem=problem) from exc
    password = os.environ.get(KEY_PASSWORD_ENV)
    if not password:
        raise AuditInputError(SIGNING_KEY_PASSWORD_MISSING, path=path, variable=KEY_PASSWORD_ENV)
    try:
        return load(data, password=password.encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise AuditInputError(SIGNING_KEY_PASSWORD_WRONG, path=path, variable=KEY_PASSWORD_ENV) from exc


def _first_sentence(exc: Exception) -> str:
    """The first sentence of a library's message (cryptography's go on with links and hints)."""
    text = " ".join(str(exc).split())
    return text.split(". ")[0].rstrip(".") or type(exc).__name__


def _load_pair(
    key_path: Path, cert_path: Path
) -> tuple[rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, x509.Certificate]:
    """Load a key and its certificate and make sure they belong together."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key = _load_key(key_path)
    cert = _load_cert(cert_path)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        problem = f"unsupported key type {type(key).__name__}; use an RSA or EC key"
        raise AuditInputError(KEY_LOAD_FAILED, path=key_path, what="key", problem=problem)
    if key.public_key() != cert.public_key():
        raise AuditInputError(
            SIGNING_KEY_MISMATCH, path=key_path, cert=cert_path, subject=describe_certificate(cert)
        )
    return key, cert


def check_signing_material(
    key_path: Path, cert_path: Path, *, on: dt.date, now: dt.datetime | None = None
) -> None:
    """Refuse, before any work, a key and certificate that could not sign this audit.

    Reads the certificate and the key (an encrypted key with the password in the
    environment variable ``AUDIT_KEY_PASSWORD``), checks that the key belongs to
    the certificate, and that the certificate is valid on the audit date ``on``
    and at ``now`` (default: the current time), when the bundle will be signed.
    Raises :class:`AuditInputError` with a one-line message naming the file.
    Takes milliseconds: no signature is made.
    """
    key_path, cert_path = Path(key_path), Path(cert_path)
    _key, cert = _load_pair(key_path, cert_path)
    moment = now if now is not None else dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    for when, inside, before in (
        (f"the audit date {on.isoformat()}", start.date() <= on <= end.date(), on < start.date()),
        (f"now ({_when(moment)})", start <= moment <= end, moment < start),
    ):
        if inside:
            continue
        template = SIGNING_CERT_NOT_YET_VALID if before else SIGNING_CERT_EXPIRED
        raise AuditInputError(
            template, path=cert_path, subject=describe_certificate(cert), start=_when(start), end=_when(end), when=when
        )


def _when(moment: dt.datetime) -> str:
    """A UTC time as people read it: 2026-11-30 07:50:08 UTC."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _validity_problem(cert: x509.Certificate, signed_at: dt.datetime) -> str | None:
    """Why ``cert`` could not sign at ``signed_at`` (expired, or not yet valid), or None when it could."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=dt.UTC)
    if signed_at < start:
        return (
            f"its certificate {describe_certificate(cert)} was not yet valid at signing time "
            f"(signed {_when(signed_at)}; valid from {_when(start)})"
        )
    if signed_at > end:
        return (
            f"its certificate {describe_certificate(cert)} had expired at signing time "
            f"(signed {_when(signed_at)}; valid until {_when(end)})"
        )
    return None


def describe_certificate(cert: x509.Certificate) -> str:
    """Subject common name and SHA-256 fingerprint, as ``openssl x509 -fingerprint -sha256`` prints it."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(names[0].value) if names else cert.subject.rfc4514_string()
    fingerprint = cert.fingerprint(hashes.SHA256()).hex().upper()
    pairs = ":".join(fingerprint[i : i + 2] for i in range(0, len(fingerprint), 2))
    return f"CN={cn}, SHA-256 {pairs}"


def _cert_der(cert: x509.Certificate) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.DER)


@contextlib.contextmanager
def _quiet_pyhanko() -> Iterator[None]:
    """Silence pyHanko's log records while it validates.

    pyHanko logs a full traceback when the signer is not trusted or a structure is
    damaged; verification turns those outcomes into ``problems``, and the CLI
    must print no traceback.
    """
    saved = []
    for name in _NOISY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def _key_usage_settings() -> Any:
    """Accept a signer certificate with digitalSignature or nonRepudiation (pyHanko wants the latter only)."""
    from pyhanko.sign.validation.settings import KeyUsageConstraints

    return KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False)


def _validation_context(trusted: x509.Certificate) -> Any:
    """A pyHanko validation context whose only trust root is ``trusted``; it never fetches anything."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko_certvalidator import ValidationContext

    root = asn1_x509.Certificate.load(_cert_der(trusted))
    return ValidationContext(trust_roots=[root], allow_fetching=False)


# ---------------------------------------------------------------------------
# PDF


def sign_pdf(
    *,
    pdf_in: Path,
    pdf_out: Path,
    key_path: Path,
    cert_path: Path,
    reason: str,
    location: str | None = None,
) -> None:
    """Add an embedded PAdES baseline signature (SHA-256) to a PDF, as an incremental update.

    The original bytes are kept and the signature is appended, so a PDF/A-3b file
    from WeasyPrint stays PDF/A-3b: the signature field is invisible with the
    print flag set, and the document's Producer entry is made equal to the one
    pyHanko writes into the XMP metadata (otherwise the Info dictionary and XMP
    disagree, which PDF/A forbids). ``pdf_out`` may equal ``pdf_in``; it is
    replaced atomically.
    """
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.metadata.model import VENDOR
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    pdf_in = Path(pdf_in)
    pdf_out = Path(pdf_out)
    key, cert = _load_pair(key_path, cert_path)
    try:
        source = pdf_in.read_bytes()
    except FileNotFoundError as exc:
        raise AuditInputError(FILE_NOT_FOUND, what="PDF to sign", path=pdf_in, hint="render the report first") from exc

    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(_cert_der(cert)),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=SimpleCertificateStore(),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=_PDF_FIELD_NAME,
        reason=reason,
        location=location,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    output = io.BytesIO()
    try:
        with _quiet_pyhanko():
            writer = IncrementalPdfFileWriter(io.BytesIO(source), strict=False)
            _align_producer(writer, generic, VENDOR)
            signers.sign_pdf(writer, meta, signer=signer, output=output)
    except Exception as exc:  # pyHanko raises many types for a malformed or encrypted PDF
        raise AuditInputError(PDF_SIGN_FAILED, path=pdf_in, problem=f"{type(exc).__name__}: {exc}") from exc
    _write_atomic(pdf_out, output.getvalue())


def _align_producer(writer: Any, generic: Any, vendor: str) -> None:
    """Make the Info dictionary's /Producer what pyHanko will write to XMP pdf:Producer.

    pyHanko appends "; pyHanko x.y" to an existing Info /Producer but sets XMP
    pdf:Producer to "pyHanko x.y" alone; PDF/A requires the two to be equal.
    """
    try:
        info_ref = writer.trailer.raw_get("/Info")
    except KeyError:
        return  # no Info dictionary: pyHanko writes XMP only
    info = info_ref.get_object()
    if "/Producer" in info and "/Metadata" in writer.root:
        info["/Producer"] = generic.TextStringObject(vendor)
        writer.mark_update(info_ref)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------
# Manifest


def hash_file(path: Path) -> str:
    """SHA-256 of a file as lowercase hex, read in 1 MiB chunks (large data and model files too)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _bundle_files(bundle_dir: Path) -> list[str]:
    """Relative POSIX paths of every file under ``bundle_dir``, sorted, without the manifest and its signature."""
    found = []
    for root, dirs, files in os.walk(bundle_dir):
        dirs.sort()
        for name in files:
            rel = (Path(root) / name).relative_to(bundle_dir).as_posix()
            if rel not in (MANIFEST_NAME, MANIFEST_SIG_NAME):
                found.append(rel)
    return sorted(found)


def write_manifest(*, bundle_dir: Path, info: dict) -> Path:
    """Write ``manifest.json``: the SHA-256 and size of every file in the bundle, plus ``info`` under "audit".

    ``info`` is what a reader needs to reproduce the audit (tool and library
    versions, data and model hashes, seed). The JSON is deterministic (sorted
    keys, indent 2, trailing newline) so the same bundle gives the same bytes.
    """
    bundle_dir = Path(bundle_dir)
    files = {}
    for rel in _bundle_files(bundle_dir):
        path = bundle_dir / rel
        files[rel] = {"sha256": hash_file(path), "bytes": path.stat().st_size}
    manifest = {"manifest_version": MANIFEST_VERSION, "files": files, "audit": dict(info)}
    out = bundle_dir / MANIFEST_NAME
    out.write_text(json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def sign_manifest(*, bundle_dir: Path, key_path: Path, cert_path: Path) -> Path:
    """Write ``manifest.sig``: a detached CMS SignedData (DER, SHA-256) over the exact bytes of manifest.json.

    The signer's certificate is included, so ``openssl cms -verify`` and
    :func:`verify_bundle` need only the certificate they trust.
    """
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.serialization import pkcs7

    bundle_dir = Path(bundle_dir)
    key, cert = _load_pair(key_path, cert_path)
    manifest = bundle_dir / MANIFEST_NAME
    try:
        data = manifest.read_bytes()
    except FileNotFoundError as exc:
        raise AuditInputError(BUNDLE_NOT_FOUND, path=bundle_dir) from exc
    signature = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(data)
        .add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])
    )
    out = bundle_dir / MANIFEST_SIG_NAME
    out.write_bytes(signature)
    return out


def seal_bundle(*, bundle_dir: Path, key_path: Path, cert_path: Path, info: dict) -> None:
    """Seal a finished bundle: copy the certificate in as signer-cert.pem, then write and sign the manifest.

    The certificate is copied first so that it is itself listed (and hashed) in
    the manifest. Sign ``report.pdf`` with :func:`sign_pdf` before sealing.
    """
    from cryptography.hazmat.primitives import serialization

    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise AuditInputError(
            FILE_NOT_FOUND, what="bundle folder", path=bundle_dir, hint="write the report files first"
        )
    _key, cert = _load_pair(key_path, cert_path)  # fail before anything is written
    (bundle_dir / SIGNER_CERT_NAME).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_manifest(bundle_dir=bundle_dir, info=info)
    sign_manifest(bundle_dir=bundle_dir, key_path=key_path, cert_path=cert_path)


# ---------------------------------------------------------------------------
# Verification
#
# Every step is bounded: the folder is listed without following links and
# nothing but regular files is opened (a pipe would block a read forever); the
# small files are read with a size cap; report.pdf's revisions are counted from
# its bytes before pyHanko parses it, so a PDF changed after signing is named
# without pyHanko's difference analysis (which can walk a structure tree for
# many minutes); and the two library validations run under a deadline.

# manifest.json, manifest.sig and signer-cert.pem are a few kB; anything far larger is not one.
_SMALL_FILE_LIMIT = 16 << 20
# Deadline of one library validation (pyHanko); audit's own bundles take well under a second.
_VALIDATION_SECONDS = 30.0
# A PAdES signature's byte range: [0 before-contents after-contents rest].
_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s*\]")


class _NotARegularFile(OSError):
    """A bundle member that is a link, a folder, a pipe or a device."""


class _TooLarge(OSError):
    """A manifest, signature or certificate far larger than any audit writes."""


@dataclass
class _Listing:
    """What a bundle folder holds, listed without following links (bundle-relative POSIX paths)."""

    files: set[str] = field(default_factory=set)
    folders: set[str] = field(default_factory=set)
    odd: dict[str, str] = field(default_factory=dict)  # links, pipes, devices, unreadable folders: what they are


def _shown(name: str) -> str:
    """A name as it is: verbatim when printable, else with its control or undecodable characters escaped."""
    if name.isprintable():
        try:
            name.encode("utf-8")
            return name
        except UnicodeEncodeError:
            pass
    return repr(name)


def _list_bundle(bundle_dir: Path) -> _Listing:
    """Every entry under ``bundle_dir``; links are recorded, never followed."""
    listing = _Listing()
    pending = [""]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(bundle_dir / folder if folder else bundle_dir) as entries:
                for entry in entries:
                    rel = f"{folder}/{entry.name}" if folder else entry.name
                    if entry.is_symlink():
                        try:
                            target = _shown(os.readlink(entry.path))
                        except OSError:
                            target = "?"
                        listing.odd[rel] = f"a symbolic link (to {target}); audit writes none and does not follow it"
                    elif entry.is_dir(follow_symlinks=False):
                        listing.folders.add(rel)
                        pending.append(rel)
                    elif entry.is_file(follow_symlinks=False):
                        listing.files.add(rel)
                    else:
                        listing.odd[rel] = "not a regular file (a pipe, socket or device); it is not read"
        except OSError as exc:
            listing.odd[folder or "."] = f"folder could not be listed ({exc.strerror or exc})"
    return listing


def _open_regular(path: Path) -> io.BufferedReader:
    """Open a regular file for reading without following a link and without blocking on a pipe."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _NotARegularFile(f"{path} is not a regular file")
    return os.fdopen(fd, "rb")


def _read_regular(path: Path, limit: int | None = None) -> bytes:
    with _open_regular(path) as fh:
        if limit is not None and os.fstat(fh.fileno()).st_size > limit:
            raise _TooLarge(f"{path} is larger than {limit} bytes")
        return fh.read()


def _hash_regular(path: Path) -> tuple[str, int]:
    """SHA-256 and size of a regular file (never a link or a pipe)."""
    digest = hashlib.sha256()
    size = 0
    with _open_regular(path) as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _bounded(fn: Callable[[], _T], seconds: float) -> _T:
    """Run ``fn`` and return its result, or raise TimeoutError after ``seconds``.

    A thread cannot be stopped: one that overruns is left behind as a daemon
    (it ends with the process) and its result is ignored.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="audit-verify", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"not finished within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def verify_bundle(*, bundle_dir: Path, cert_path: Path | None = None) -> VerifyReport:
    """Check a sealed bundle and say, file by file, what does not hold.

    (a) ``manifest.sig`` is a valid CMS signature over ``manifest.json`` by the
    trusted certificate: ``cert_path`` when given (the real check), otherwise
    the bundle's own ``signer-cert.pem``, which only shows the bundle is
    self-consistent. The signature file must also be exactly in the form
    :func:`sign_manifest` writes, so a change to one of its unsigned fields is
    caught too, and the certificate must have been valid at the signing time the
    signature states. (b) The bundle holds exactly the files the manifest lists,
    each with its SHA-256: a file or folder added, a file missing or renamed is
    named, and so is any symbolic link or other non-regular file (never
    followed). (c) ``report.pdf``, when present, carries exactly one PAdES
    signature, by the trusted certificate, valid at its signing time, covering
    the whole file: a second signature or any incremental update appended after
    it is named as a change, from the file's bytes, before pyHanko reads it.

    Every step is bounded in time (see the comment above). Raises
    :class:`AuditInputError` only when ``bundle_dir`` is not a bundle or
    ``cert_path`` cannot be read; everything else is reported in ``problems``.
    """
    bundle_dir = Path(bundle_dir)
    manifest_path = bundle_dir / MANIFEST_NAME
    sig_path = bundle_dir / MANIFEST_SIG_NAME
    if not bundle_dir.is_dir() or not (os.path.lexists(manifest_path) or os.path.lexists(sig_path)):
        raise AuditInputError(BUNDLE_NOT_FOUND, path=bundle_dir)
    given = _load_cert(cert_path) if cert_path is not None else None
    report = VerifyReport(ok=False)
    problems, checks = report.problems, report.checks
    listing = _list_bundle(bundle_dir)
    for rel, what in sorted(listing.odd.items()):
        problems.append(f"{_shown(rel)}: {what}")

    bundle_cert = _read_bundle_cert(bundle_dir, listing, problems)
    trusted = given if given is not None else bundle_cert
    if given is not None:
        checks.append(f"trusted certificate: {describe_certificate(given)} (from {cert_path})")
    elif bundle_cert is not None:
        checks.append(
            f"trusted certificate: the bundle's own {SIGNER_CERT_NAME} ({describe_certificate(bundle_cert)}); "
            "this shows the bundle is self-consistent only; pass the certificate you trust to check who signed it"
        )

    manifest_bytes = _read_member(bundle_dir, MANIFEST_NAME, listing, problems)
    sig_bytes = _read_member(bundle_dir, MANIFEST_SIG_NAME, listing, problems)
    if manifest_bytes is None and MANIFEST_NAME not in listing.odd:
        problems.append(f"{MANIFEST_NAME}: missing; the bundle cannot be checked")
    if sig_bytes is None and MANIFEST_SIG_NAME not in listing.odd:
        problems.append(f"{MANIFEST_SIG_NAME}: missing; {MANIFEST_NAME} is not signed")

    with _quiet_pyhanko():
        cms_cert = None
        if manifest_bytes is not None and sig_bytes is not None:
            cms_cert = _verify_manifest_signature(manifest_bytes, sig_bytes, trusted, report)
        if cms_cert is not None and bundle_cert is not None and _cert_der(bundle_cert) != _cert_der(cms_cert):
            problems.append(
                f"{SIGNER_CERT_NAME}: is not the certificate that signed {MANIFEST_NAME} "
                f"({describe_certificate(cms_cert)})"
            )
        if trusted is None:
            trusted = cms_cert  # nothing else to go on: self-consistency only, already reported as a problem
        if manifest_bytes is not None:
            _verify_files(bundle_dir, manifest_bytes, listing, report)
        if REPORT_PDF_NAME in listing.files:
            _verify_pdf(bundle_dir / REPORT_PDF_NAME, REPORT_PDF_NAME, trusted, report)

    report.ok = not problems
    return report


def _read_member(bundle_dir: Path, rel: str, listing: _Listing, problems: list[str]) -> bytes | None:
    """A small top-level file of the bundle (manifest, signature, certificate), or None when it is not there."""
    if rel not in listing.files:
        return None
    try:
        return _read_regular(bundle_dir / rel, _SMALL_FILE_LIMIT)
    except _TooLarge:
        problems.append(f"{rel}: larger than {_SMALL_FILE_LIMIT >> 20} MiB; not what audit writes")
    except OSError as exc:
        problems.append(f"{rel}: could not be read ({exc.strerror or exc})")
    return None


def _read_bundle_cert(bundle_dir: Path, listing: _Listing, problems: list[str]) -> x509.Certificate | None:
    """The bundle's signer-cert.pem, or None with a problem saying why it is unusable."""
    from cryptography import x509

    data = _read_member(bundle_dir, SIGNER_CERT_NAME, listing, problems)
    if data is None:
        if SIGNER_CERT_NAME not in listing.odd:
            problems.append(f"{SIGNER_CERT_NAME}: missing; the bundle does not say who signed it")
        return None
    try:
        cert = x509.load_pem_x509_certificate(data)
        describe_certificate(cert)  # cryptography parses the subject lazily: fail here, not later
        cert.public_key()
        return cert
    except ValueError as exc:
        problems.append(f"{SIGNER_CERT_NAME}: not a readable PEM certificate ({exc})")
        return None


def _verify_manifest_signature(
    content: bytes, signature: bytes, trusted: x509.Certificate | None, report: VerifyReport
) -> x509.Certificate | None:
    """Check manifest.sig against manifest.json; return the signer certificate found in it (or None)."""
    import asyncio

    from cryptography import x509
    from pyhanko.sign.validation import async_validate_detached_cms

    problems = report.problems
    try:
        content_info, signed_data, signer_cert = _parse_cms(signature)
        with warnings.catch_warnings():  # e.g. a damaged serial number: reported below, not warned about
            warnings.simplefilter("ignore")
            cms_cert = x509.load_der_x509_certificate(signer_cert.dump())
        report.signer = describe_certificate(cms_cert)  # parses the subject, which cryptography defers
        canonical = _is_canonical(content_info, signature, cms_cert)
        signed_at = _cms_signing_time(signed_data["signer_infos"][0])
    except Exception as exc:  # noqa: BLE001 - asn1crypto and cryptography parse lazily, raising many types
        problems.append(f"{MANIFEST_SIG_NAME}: not a readable CMS signature ({type(exc).__name__}: {exc})")
        return None

    if not canonical:
        problems.append(
            f"{MANIFEST_SIG_NAME}: altered; it is not in the exact form audit writes "
            "(an unsigned field of the CMS structure was changed)"
        )
    timing: str | None
    if signed_at is None:
        timing = "states no signing time, so the certificate's validity when it signed cannot be checked"
    else:
        timing = _validity_problem(cms_cert, signed_at)
    if timing is not None:
        problems.append(f"{MANIFEST_SIG_NAME}: {timing}")
    if trusted is not None and _cert_der(trusted) != _cert_der(cms_cert):
        problems.append(
            f"{MANIFEST_SIG_NAME}: signed by {report.signer}, not by the trusted certificate "
            f"{describe_certificate(trusted)}"
        )
        return cms_cert
    anchor = trusted if trusted is not None else cms_cert

    def validate() -> Any:
        return asyncio.run(
            async_validate_detached_cms(
                content,
                signed_data,
                signer_validation_context=_validation_context(anchor),
                key_usage_settings=_key_usage_settings(),
            )
        )

    try:
        status = _bounded(validate, _VALIDATION_SECONDS)
    except TimeoutError:
        problems.append(f"{MANIFEST_SIG_NAME}: could not be validated within {_VALIDATION_SECONDS:g} s (altered?)")
        return cms_cert
    except Exception as exc:  # noqa: BLE001 - a damaged structure can fail deep inside pyHanko
        problems.append(f"{MANIFEST_SIG_NAME}: could not be validated ({type(exc).__name__}: {exc})")
        return cms_cert
    if not status.intact:
        problems.append(f"{MANIFEST_NAME}: signature does not verify ({MANIFEST_SIG_NAME}); the manifest was changed")
    elif not status.valid:
        problems.append(f"{MANIFEST_SIG_NAME}: the signature value does not verify")
    elif not status.trusted:
        problems.append(
            f"{MANIFEST_SIG_NAME}: the signer certificate is not trusted "
            f"({status.trust_problem_indic or 'no path to the trusted certificate'})"
        )
    elif timing is None:
        report.checks.append(f"{MANIFEST_SIG_NAME}: valid CMS signature over {MANIFEST_NAME} by {report.signer}")
    return cms_cert


def _cms_signing_time(signer_info: Any) -> dt.datetime | None:
    """The signing time a CMS signer states in its signed attributes (RFC 5652 §11.3), or None."""
    for attribute in signer_info["signed_attrs"] or []:
        if attribute["type"].native == "signing_time":
            value = attribute["values"][0].native
            return value if isinstance(value, dt.datetime) else None
    return None


def _parse_cms(signature: bytes) -> tuple[Any, Any, Any]:
    """Parse a DER CMS SignedData with exactly one signer and one certificate (what sign_manifest writes)."""
    from asn1crypto import cms

    content_info = cms.ContentInfo.load(signature, strict=True)
    if content_info["content_type"].native != "signed_data":
        raise ValueError(f"content type is {content_info['content_type'].native}, not signed data")
    signed_data = content_info["content"]
    certs = [choice.chosen for choice in signed_data["certificates"] or []]
    if len(certs) != 1 or len(signed_data["signer_infos"]) != 1:
        raise ValueError("expected exactly one signer and one certificate")
    if certs[0].__class__.__name__ != "Certificate":
        raise ValueError("the embedded certificate is not an X.509 certificate")
    return content_info, signed_data, certs[0]


def _is_canonical(content_info: Any, signature: bytes, cert: x509.Certificate) -> bool:
    """True when ``signature`` is byte for byte what ``sign_manifest`` writes for its signed parts.

    A CMS signature covers the signed attributes only; the version numbers,
    algorithm lists and signer identifier around them are not signed, and a
    validator may ignore a change there. Rebuilding the structure from the
    signed attributes, the signature value and the certificate, with every
    other field as cryptography's PKCS7SignatureBuilder writes it, and
    comparing bytes closes that gap: every byte is now either signed, the
    signature itself, the certificate (compared separately) or fixed.
    """
    from asn1crypto import algos, cms, core
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    signed_data = content_info["content"]
    signer_info = signed_data["signer_infos"][0]
    public_key = cert.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        sig_alg = {"algorithm": "rsassa_pkcs1v15", "parameters": core.Null()}
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        sig_alg = {"algorithm": "sha256_ecdsa"}
    else:
        return False
    digest_alg = {"algorithm": "sha256", "parameters": core.Null()}
    asn1_cert = signed_data["certificates"][0].chosen
    rebuilt = cms.ContentInfo(
        {
            "content_type": "signed_data",
            "content": cms.SignedData(
                {
                    "version": "v1",
                    "digest_algorithms": [algos.DigestAlgorithm(digest_alg)],
                    "encap_content_info": {"content_type": "data"},
                    "certificates": [cms.CertificateChoices(name="certificate", value=asn1_cert)],
                    "signer_infos": [
                        {
                            "version": "v1",
                            "sid": cms.SignerIdentifier(
                                name="issuer_and_serial_number",
                                value={"issuer": asn1_cert.issuer, "serial_number": asn1_cert.serial_number},
                            ),
                            "digest_algorithm": algos.DigestAlgorithm(digest_alg),
                            "signed_attrs": signer_info["signed_attrs"],
                            "signature_algorithm": algos.SignedDigestAlgorithm(sig_alg),
                            "signature": signer_info["signature"],
                        }
                    ],
                }
            ),
        }
    )
    return rebuilt.dump(force=False) == signature


def _verify_files(bundle_dir: Path, manifest_bytes: bytes, listing: _Listing, report: VerifyReport) -> None:
    """Compare the bundle with the manifest: name every file that differs, was added, renamed or is missing."""
    problems = report.problems
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
        listed = manifest["files"]
        if not isinstance(listed, dict) or not all(
            isinstance(entry, dict) and isinstance(entry.get("sha256"), str) for entry in listed.values()
        ):
            raise ValueError("'files' is not a mapping of path to {sha256, bytes}")
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        problems.append(f"{MANIFEST_NAME}: not a readable manifest ({type(exc).__name__}: {exc})")
        return
    if manifest.get("manifest_version") != MANIFEST_VERSION:
        problems.append(
            f"{MANIFEST_NAME}: manifest_version is {manifest.get('manifest_version')!r}, "
            f"this tool reads {MANIFEST_VERSION!r}"
        )
    # Folders that hold a listed file; any other folder was added (named once, at its top).
    needed = {"/".join(rel.split("/")[:depth]) for rel in listed for depth in range(1, rel.count("/") + 1)}
    added = sorted(folder for folder in listing.folders if folder not in needed)
    added_tops = [f for f in added if not any(f.startswith(top + "/") for top in added if top != f)]
    for folder in added_tops:
        problems.append(f"{_shown(folder)}/: folder not listed in manifest (added after signing)")

    def inside_added(rel: str) -> bool:
        return any(rel.startswith(top + "/") for top in added_tops)

    present = listing.files - {MANIFEST_NAME, MANIFEST_SIG_NAME}
    matched = 0
    for rel in sorted(set(listed) | present):
        if rel in listing.odd or inside_added(rel):
            continue  # named above
        if rel not in present:
            problems.append(f"{_shown(rel)}: listed in manifest but missing")
        elif rel not in listed:
            problems.append(f"{_shown(rel)}: not listed in manifest (added after signing)")
        else:
            try:
                digest, size = _hash_regular(bundle_dir / rel)
            except OSError as exc:
                problems.append(f"{_shown(rel)}: could not be read ({exc.strerror or exc})")
                continue
            if digest != listed[rel]["sha256"] or size != listed[rel].get("bytes", size):
                problems.append(f"{_shown(rel)}: sha256 differs from manifest")
            else:
                matched += 1
    report.checks.append(f"{matched} of {len(listed)} files listed in {MANIFEST_NAME} match their sha256")


def _pdf_revision_problem(data: bytes) -> str | None:
    """What the bytes of a signed PDF show was done after signing, without parsing the PDF; None if nothing.

    audit signs once, as the last incremental update, so a sealed report.pdf
    holds exactly one signature whose byte range ends at the end of the file.
    A second signature or any update appended later (each adds a revision
    after it) shows here, and so does a truncated file. A byte range counts
    only when its gap holds a hex string, as in a real signature dictionary,
    so "/ByteRange" written in the report's text is not taken for one.
    """
    signatures = []
    for match in _BYTE_RANGE.finditer(data):
        start, before, after, rest = (int(group) for group in match.groups())
        if start == 0 and 0 < before < after <= len(data) and data[before : before + 1] == b"<" and data[after - 1 : after] == b">":
            signatures.append((before, after, rest))
    if not signatures:
        if _BYTE_RANGE.search(data) or b"/ByteRange" in data:
            return "embedded PDF signature damaged or truncated (its byte range does not fit the file)"
        return "has no embedded PDF signature"
    if len(signatures) > 1:
        return (
            f"changed after signing (an incremental update with a second signature was appended; "
            f"it holds {len(signatures)} signatures, audit writes one)"
        )
    _before, after, rest = signatures[0]
    end = after + rest
    if end > len(data):
        return f"truncated (the signature covers {end} bytes, the file has {len(data)})"
    if end < len(data):
        tail = data[end:]
        if b"startxref" in tail or b"%%EOF" in tail or b"xref" in tail or b"obj" in tail:
            return "changed after signing (an incremental update was appended)"
        return f"changed after signing ({len(tail)} bytes were appended after the signed end of the file)"
    return None


def _verify_pdf(pdf: Path, rel: str, trusted: x509.Certificate | None, report: VerifyReport) -> None:
    """Check the PDF's one embedded PAdES signature: from its bytes first, then with pyHanko, trusting ``trusted`` only."""
    problems = report.problems
    try:
        data = _read_regular(pdf)
    except OSError as exc:
        problems.append(f"{rel}: could not be read ({exc.strerror or exc})")
        return
    structural = _pdf_revision_problem(data)
    if structural is not None:
        problems.append(f"{rel}: {structural}")
        return
    if trusted is None:
        problems.append(f"{rel}: embedded PDF signature not checked: no certificate to trust")
        return
    try:
        found, passed = _bounded(lambda: _validate_pdf_signature(data, rel, trusted), _VALIDATION_SECONDS)
    except TimeoutError:
        problems.append(
            f"{rel}: embedded PDF signature could not be checked within {_VALIDATION_SECONDS:g} s "
            "(audit writes no PDF that takes this long; treat it as altered)"
        )
        return
    except Exception as exc:  # noqa: BLE001 - a damaged PDF can fail anywhere in pyHanko's reader
        problems.append(f"{rel}: embedded PDF signature could not be checked ({type(exc).__name__}: {exc})")
        return
    problems.extend(found)
    report.checks.extend(passed)


def _validate_pdf_signature(data: bytes, rel: str, trusted: x509.Certificate) -> tuple[list[str], list[str]]:
    """pyHanko's validation of the one signature of a PDF already known to end with it: (problems, checks).

    The difference analysis is skipped: it judges updates made after a
    signature, and there are none (:func:`_pdf_revision_problem` has refused
    them), while on a crafted file it can run for many minutes.
    """
    from asn1crypto import cms
    from cryptography import x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature

    problems: list[str] = []
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    signatures = reader.embedded_signatures
    if not signatures:
        return [f"{rel}: has no embedded PDF signature"], []
    if len(signatures) > 1:
        return [f"{rel}: changed after signing (it holds {len(signatures)} signatures, audit writes one)"], []
    embedded = signatures[0]
    status = validate_pdf_signature(
        embedded, _validation_context(trusted), key_usage_settings=_key_usage_settings(), skip_diff=True
    )
    if not status.intact:
        return [f"{rel}: embedded PDF signature not intact (the signed bytes were changed)"], []
    if not status.valid:
        return [f"{rel}: embedded PDF signature value does not verify"], []
    if not status.trusted:
        return [f"{rel}: embedded PDF signature is not by the trusted certificate {describe_certificate(trusted)}"], []
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return [f"{rel}: embedded PDF signature does not cover the whole file (changed after signing)"], []
    if embedded.sig_object.get("/SubFilter") != "/ETSI.CAdES.detached":
        return [f"{rel}: embedded signature is not a PAdES signature"], []
    raw = embedded.pkcs7_content
    used = len(cms.ContentInfo.load(raw).dump())
    if raw[used:].strip(b"\x00"):
        return [f"{rel}: embedded PDF signature has data after the signature (altered)"], []
    signed_at = embedded.self_reported_timestamp
    if signed_at is None:
        problems.append(f"{rel}: embedded PDF signature states no signing time (/M), so its validity cannot be checked")
    else:
        signer = x509.load_der_x509_certificate(embedded.signer_cert.dump())
        if (expired := _validity_problem(signer, signed_at)) is not None:
            problems.append(f"{rel}: embedded PDF signature: {expired}")
    if problems:
        return problems, []
    return [], [f"{rel}: embedded PAdES signature intact, valid and covering the whole file"]
