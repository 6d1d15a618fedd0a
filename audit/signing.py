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
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.errors import (
    BUNDLE_NOT_FOUND,
    FILE_NOT_FOUND,
    KEY_EXISTS,
    KEY_LOAD_FAILED,
    PDF_SIGN_FAILED,
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
    "VerifyReport",
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

_PDF_FIELD_NAME = "AuditSignature"
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
    """Read an unencrypted PEM or DER private key."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditInputError(KEY_LOAD_FAILED, path=path, what="key", problem=exc.strerror or exc) from exc
    try:
        if b"-----BEGIN" in data:
            return serialization.load_pem_private_key(data, password=None)
        return serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # TypeError: the key is encrypted; ValueError: not a key at all
        problem = f"not an unencrypted PEM or DER private key ({exc})"
        raise AuditInputError(KEY_LOAD_FAILED, path=path, what="key", problem=problem) from exc


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
        problem = f"the key does not belong to the certificate {cert_path} ({describe_certificate(cert)})"
        raise AuditInputError(KEY_LOAD_FAILED, path=key_path, what="key", problem=problem)
    return key, cert


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


def verify_bundle(*, bundle_dir: Path, cert_path: Path | None = None) -> VerifyReport:
    """Check a sealed bundle and say, file by file, what does not hold.

    (a) ``manifest.sig`` is a valid CMS signature over ``manifest.json`` by the
    trusted certificate: ``cert_path`` when given (the real check), otherwise
    the bundle's own ``signer-cert.pem``, which only shows the bundle is
    self-consistent. The signature file must also be exactly in the form
    :func:`sign_manifest` writes, so a change to one of its unsigned fields is
    caught too. (b) Every file's SHA-256 matches the manifest; files added after
    signing or missing are named. (c) ``report.pdf``, when present, carries a
    PAdES signature that pyHanko finds intact and trusted (same trust root) and
    that covers the whole file.

    Raises :class:`AuditInputError` only when ``bundle_dir`` is not a bundle or
    ``cert_path`` cannot be read; everything else is reported in ``problems``.
    """
    bundle_dir = Path(bundle_dir)
    manifest_path = bundle_dir / MANIFEST_NAME
    sig_path = bundle_dir / MANIFEST_SIG_NAME
    if not bundle_dir.is_dir() or not (manifest_path.exists() or sig_path.exists()):
        raise AuditInputError(BUNDLE_NOT_FOUND, path=bundle_dir)
    given = _load_cert(cert_path) if cert_path is not None else None
    report = VerifyReport(ok=False)
    problems, checks = report.problems, report.checks

    bundle_cert = _read_bundle_cert(bundle_dir, problems)
    trusted = given if given is not None else bundle_cert
    if given is not None:
        checks.append(f"trusted certificate: {describe_certificate(given)} (from {cert_path})")
    elif bundle_cert is not None:
        checks.append(
            f"trusted certificate: the bundle's own {SIGNER_CERT_NAME} ({describe_certificate(bundle_cert)}); "
            "this shows the bundle is self-consistent only; pass the certificate you trust to check who signed it"
        )

    manifest_bytes = _read_or_none(manifest_path)
    sig_bytes = _read_or_none(sig_path)
    if manifest_bytes is None:
        problems.append(f"{MANIFEST_NAME}: missing; the bundle cannot be checked")
    if sig_bytes is None:
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
            _verify_files(bundle_dir, manifest_bytes, report)
        pdf = bundle_dir / REPORT_PDF_NAME
        if pdf.is_file():
            _verify_pdf(pdf, REPORT_PDF_NAME, trusted, report)

    report.ok = not problems
    return report


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None


def _read_bundle_cert(bundle_dir: Path, problems: list[str]) -> x509.Certificate | None:
    """The bundle's signer-cert.pem, or None with a problem saying why it is unusable."""
    from cryptography import x509

    data = _read_or_none(bundle_dir / SIGNER_CERT_NAME)
    if data is None:
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
    except Exception as exc:  # noqa: BLE001 - asn1crypto and cryptography parse lazily, raising many types
        problems.append(f"{MANIFEST_SIG_NAME}: not a readable CMS signature ({type(exc).__name__}: {exc})")
        return None

    if not canonical:
        problems.append(
            f"{MANIFEST_SIG_NAME}: altered; it is not in the exact form audit writes "
            "(an unsigned field of the CMS structure was changed)"
        )
    if trusted is not None and _cert_der(trusted) != _cert_der(cms_cert):
        problems.append(
            f"{MANIFEST_SIG_NAME}: signed by {report.signer}, not by the trusted certificate "
            f"{describe_certificate(trusted)}"
        )
        return cms_cert
    anchor = trusted if trusted is not None else cms_cert
    try:
        status = asyncio.run(
            async_validate_detached_cms(
                content,
                signed_data,
                signer_validation_context=_validation_context(anchor),
                key_usage_settings=_key_usage_settings(),
            )
        )
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
    else:
        report.checks.append(f"{MANIFEST_SIG_NAME}: valid CMS signature over {MANIFEST_NAME} by {report.signer}")
    return cms_cert


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


def _verify_files(bundle_dir: Path, manifest_bytes: bytes, report: VerifyReport) -> None:
    """Compare every file in the bundle with its manifest entry; name what differs, was added or is missing."""
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
    present = set(_bundle_files(bundle_dir))
    matched = 0
    for rel in sorted(set(listed) | present):
        if rel not in present:
            problems.append(f"{rel}: listed in manifest but missing")
        elif rel not in listed:
            problems.append(f"{rel}: not listed in manifest (added after signing)")
        elif hash_file(bundle_dir / rel) != listed[rel]["sha256"]:
            problems.append(f"{rel}: sha256 differs from manifest")
        else:
            matched += 1
    report.checks.append(f"{matched} of {len(listed)} files listed in {MANIFEST_NAME} match their sha256")


def _verify_pdf(pdf: Path, rel: str, trusted: x509.Certificate | None, report: VerifyReport) -> None:
    """Check the PDF's embedded PAdES signature with pyHanko, trusting ``trusted`` only."""
    from asn1crypto import cms
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature

    problems = report.problems
    if trusted is None:
        problems.append(f"{rel}: embedded PDF signature not checked: no certificate to trust")
        return
    try:
        with open(pdf, "rb") as fh:
            reader = PdfFileReader(fh, strict=False)
            signatures = reader.embedded_signatures
            if not signatures:
                problems.append(f"{rel}: has no embedded PDF signature")
                return
            context = _validation_context(trusted)
            for index, embedded in enumerate(signatures):
                status = validate_pdf_signature(embedded, context, key_usage_settings=_key_usage_settings())
                last = index == len(signatures) - 1
                if not status.intact:
                    problems.append(f"{rel}: embedded PDF signature not intact (the signed bytes were changed)")
                elif not status.valid:
                    problems.append(f"{rel}: embedded PDF signature value does not verify")
                elif not status.trusted:
                    problems.append(
                        f"{rel}: embedded PDF signature is not by the trusted certificate "
                        f"{describe_certificate(trusted)}"
                    )
                elif last and status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
                    problems.append(
                        f"{rel}: embedded PDF signature does not cover the whole file (changed after signing)"
                    )
                elif embedded.sig_object.get("/SubFilter") != "/ETSI.CAdES.detached":
                    problems.append(f"{rel}: embedded signature is not a PAdES signature")
                else:
                    raw = embedded.pkcs7_content
                    used = len(cms.ContentInfo.load(raw).dump())
                    if raw[used:].strip(b"\x00"):
                        problems.append(f"{rel}: embedded PDF signature has data after the signature (altered)")
                        continue
                    report.checks.append(
                        f"{rel}: embedded PAdES signature intact, valid and covering the whole file"
                        if last
                        else f"{rel}: earlier embedded PDF signature {index + 1} intact and valid"
                    )
    except Exception as exc:  # noqa: BLE001 - a damaged PDF can fail anywhere in pyHanko's reader
        problems.append(f"{rel}: embedded PDF signature could not be checked ({type(exc).__name__}: {exc})")
