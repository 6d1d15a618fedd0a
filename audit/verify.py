"""Verifying an audit bundle: every file's hash, the manifest signature, the PDF's signature, nothing else.

:func:`verify_bundle` re-checks a sealed bundle in Python, without openssl, and names
the file behind each problem: any single byte changed in any file, a file added,
removed or renamed, any link or non-regular file, a PDF changed after it was
signed, a certificate used outside its validity. Signing and sealing live in
:mod:`audit.signing`.

pyHanko costs about 0.7 s to import, so it is imported inside the functions that
need it; nothing is computed at import time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import os
import re
import stat
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.errors import BUNDLE_NOT_FOUND, AuditInputError
from audit.signing import (
    _CHUNK,
    _T,
    MANIFEST_NAME,
    MANIFEST_SIG_NAME,
    MANIFEST_VERSION,
    REPORT_PDF_NAME,
    SIGNER_CERT_NAME,
    _cert_der,
    _key_usage_settings,
    _load_cert,
    _quiet_pyhanko,
    _validation_context,
    _validity_problem,
    describe_certificate,
)

if TYPE_CHECKING:
    from cryptography import x509

__all__ = ["VerifyReport", "verify_bundle"]


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
# The NYC LL144 summary (audit.report.ll144.PDF_NAME), signed like the report when the pack applies.
LL144_PDF_NAME = "ll144-summary.pdf"
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
        except Exception as exc:  # noqa: BLE001 - not handled here: re-raised unchanged in the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="audit-verify", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError(f"not finished within {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    if "value" not in outcome:  # the thread ended on a BaseException (e.g. SystemExit), which threads do not pass on
        raise RuntimeError("the validation thread ended without a result")
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
        for pdf_name in (REPORT_PDF_NAME, LL144_PDF_NAME):  # the report, and the LL144 summary an employer publishes
            if pdf_name in listing.files:
                _verify_pdf(bundle_dir / pdf_name, pdf_name, trusted, report)

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
