"""Signing an audit bundle: the PDF report and a signed manifest of every file (verifying: :mod:`audit.verify`).

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
:func:`audit.verify.verify_bundle` re-checks everything in Python, without openssl, and names
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
import tempfile
from collections.abc import Iterator
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
    "check_signing_material",
    "generate_keypair",
    "sign_pdf_in_place",
    "sign_pdf",
    "hash_file",
    "write_manifest",
    "sign_manifest",
    "seal_bundle",
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


def sign_pdf_in_place(*, pdf: Path, key_path: Path, cert_path: Path, reason: str) -> None:
    """Sign ``pdf`` where it lies (it is signed into a copy, which then takes its name)."""
    unsigned = pdf.with_name(f"{pdf.stem}.unsigned{pdf.suffix}")
    pdf.rename(unsigned)
    sign_pdf(pdf_in=unsigned, pdf_out=pdf, key_path=key_path, cert_path=cert_path, reason=reason)
    unsigned.unlink()


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
