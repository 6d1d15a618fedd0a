"""Tests for audit.signing: key generation, PAdES signing, the signed manifest and bundle verification.

One real bundle is built per module (WeasyPrint PDF/A-3b, signed with pyHanko,
plus an HTML, a JSON and an SVG), then copied for each test that tampers with it.
The independent checks use pyHanko's own validator and ``openssl cms -verify``,
not our verify function.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from audit import errors
from audit.errors import AuditInputError
from audit.signing import (
    MANIFEST_NAME,
    MANIFEST_SIG_NAME,
    SIGNER_CERT_NAME,
    generate_keypair,
    hash_file,
    seal_bundle,
    sign_pdf,
    write_manifest,
)
from audit.verify import verify_bundle

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "german-credit"
REPORT_TEXT = "Compliance audit report for the credit model"
INFO = {"tool": {"audit": "0.1.0"}, "libraries": {"pyhanko": "0.38.0"}, "seed": 42, "data_sha256": "ab" * 32}
BUNDLE_FILES = [
    "report.pdf",
    "report.html",
    "audit.json",
    "figures/a.svg",
    SIGNER_CERT_NAME,
    MANIFEST_NAME,
    MANIFEST_SIG_NAME,
]


class Keys:
    """Paths of a generated key pair."""

    def __init__(self, folder: Path, common_name: str) -> None:
        self.key = folder / "key.pem"
        self.cert = folder / "cert.pem"
        generate_keypair(key_path=self.key, cert_path=self.cert, common_name=common_name, organisation="Test Org")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("keys"), "Test Auditor")


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("other-keys"), "Someone Else")


def _write_pdf(path: Path) -> None:
    weasyprint = pytest.importorskip("weasyprint")
    html = f"<html><head><title>Audit</title></head><body><h1>Audit</h1><p>{REPORT_TEXT}</p></body></html>"
    weasyprint.HTML(string=html).write_pdf(path, pdf_variant="pdf/a-3b")


@pytest.fixture(scope="module")
def unsigned_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pdf") / "unsigned.pdf"
    _write_pdf(path)
    return path


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory, keys: Keys, unsigned_pdf: Path) -> Path:
    """A sealed bundle; tests that change it work on a copy (see ``bundle``)."""
    bundle = tmp_path_factory.mktemp("sealed") / "bundle"
    (bundle / "figures").mkdir(parents=True)
    sign_pdf(
        pdf_in=unsigned_pdf,
        pdf_out=bundle / "report.pdf",
        key_path=keys.key,
        cert_path=keys.cert,
        reason="Audit report",
        location="Test lab",
    )
    (bundle / "report.html").write_text(f"<html><body><p>{REPORT_TEXT}</p></body></html>\n", encoding="utf-8")
    (bundle / "audit.json").write_text(json.dumps({"schema_version": "1.0", "findings": []}), encoding="utf-8")
    (bundle / "figures" / "a.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>\n', encoding="utf-8")
    seal_bundle(bundle_dir=bundle, key_path=keys.key, cert_path=keys.cert, info=INFO)
    return bundle


@pytest.fixture
def bundle(sealed: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(sealed, copy)
    return copy


def _flip(path: Path, index: int) -> None:
    data = bytearray(path.read_bytes())
    data[index] ^= 0xFF
    path.write_bytes(bytes(data))


def _names(report, name: str) -> bool:
    return any(name in problem for problem in report.problems)


# --- the sealed bundle verifies -------------------------------------------------


def test_sealed_bundle_verifies_with_the_trusted_certificate(sealed: Path, keys: Keys) -> None:
    report = verify_bundle(bundle_dir=sealed, cert_path=keys.cert)
    assert report.ok, report.problems
    assert report.problems == []
    assert report.signer.startswith("CN=Test Auditor, SHA-256 ")
    assert any("manifest.sig: valid CMS signature" in check for check in report.checks)
    assert any(check.startswith("report.pdf: embedded PAdES signature intact") for check in report.checks)
    assert any("5 of 5 files" in check for check in report.checks)


def test_without_a_certificate_the_bundle_is_only_self_consistent(sealed: Path) -> None:
    report = verify_bundle(bundle_dir=sealed)
    assert report.ok, report.problems
    assert any("self-consistent only" in check for check in report.checks)


def test_manifest_lists_every_file_with_hash_size_and_info(sealed: Path) -> None:
    manifest = json.loads((sealed / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest["manifest_version"] == "1"
    assert manifest["audit"] == INFO
    assert list(manifest["files"]) == sorted(set(BUNDLE_FILES) - {MANIFEST_NAME, MANIFEST_SIG_NAME})
    for rel, entry in manifest["files"].items():
        data = (sealed / rel).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def test_write_manifest_is_deterministic(bundle: Path) -> None:
    before = (bundle / MANIFEST_NAME).read_bytes()
    write_manifest(bundle_dir=bundle, info=INFO)
    assert (bundle / MANIFEST_NAME).read_bytes() == before
    assert before.endswith(b"\n")


def test_hash_file_is_sha256(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    payload = bytes(range(256)) * 5000  # more than one read chunk
    path.write_bytes(payload)
    assert hash_file(path) == hashlib.sha256(payload).hexdigest()


# --- independent checks: openssl, pyHanko, pypdf -------------------------------


def _openssl_verify(bundle: Path, ca_file: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [
        "openssl", "cms", "-verify", "-binary", "-inform", "DER",
        "-in", str(bundle / MANIFEST_SIG_NAME), "-content", str(bundle / MANIFEST_NAME),
        "-CAfile", str(ca_file), "-out", "/dev/null", *extra,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not on PATH")
@pytest.mark.parametrize("extra", [(), ("-purpose", "any")], ids=["default-purpose", "purpose-any"])
def test_openssl_cms_verifies_the_manifest(sealed: Path, keys: Keys, extra: tuple[str, ...]) -> None:
    result = _openssl_verify(sealed, keys.cert, *extra)
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not on PATH")
def test_openssl_cms_rejects_a_changed_manifest_or_another_ca(bundle: Path, keys: Keys, other_keys: Keys) -> None:
    assert _openssl_verify(bundle, other_keys.cert).returncode != 0
    _flip(bundle / MANIFEST_NAME, 10)
    assert _openssl_verify(bundle, keys.cert).returncode != 0


def test_pyhanko_validates_the_pdf_signature_independently(sealed: Path, keys: Keys) -> None:
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    context = ValidationContext(trust_roots=[load_cert_from_pemder(str(keys.cert))])
    with open(sealed / "report.pdf", "rb") as fh:
        signatures = PdfFileReader(fh, strict=False).embedded_signatures
        assert len(signatures) == 1
        assert signatures[0].sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
        status = validate_pdf_signature(signatures[0], context)
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.bottom_line


def test_pypdf_still_extracts_text_of_the_signed_pdf(sealed: Path) -> None:
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(sealed / "report.pdf").pages)
    assert REPORT_TEXT in " ".join(text.split())


def test_signing_is_an_incremental_update_that_keeps_pdfa_markers(sealed: Path, unsigned_pdf: Path) -> None:
    from pypdf import PdfReader

    signed = (sealed / "report.pdf").read_bytes()
    assert signed.startswith(unsigned_pdf.read_bytes())  # the original bytes are untouched
    reader = PdfReader(sealed / "report.pdf")
    root = reader.trailer["/Root"]
    assert "/Version" not in root or root["/Version"] < "/2.0"  # PDF/A-3 must not claim PDF 2.0
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8")
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert root["/OutputIntents"][0]["/S"] == "/GTS_PDFA1"
    producer = reader.metadata["/Producer"]
    assert f'pdf:Producer="{producer}"' in xmp  # Info and XMP agree, as PDF/A requires
    widget = root["/AcroForm"]["/Fields"][0].get_object()
    assert widget["/F"] & 4 and not widget["/F"] & 2  # printable, not hidden (PDF/A)


def test_sign_pdf_can_sign_in_place(tmp_path: Path, keys: Keys, unsigned_pdf: Path) -> None:
    pdf = tmp_path / "report.pdf"
    shutil.copy(unsigned_pdf, pdf)
    sign_pdf(pdf_in=pdf, pdf_out=pdf, key_path=keys.key, cert_path=keys.cert, reason="Audit")
    assert pdf.read_bytes().startswith(unsigned_pdf.read_bytes())
    assert b"/ETSI.CAdES.detached" in pdf.read_bytes()
    assert not list(tmp_path.glob(".*.tmp"))


# --- tampering is caught and the file is named ----------------------------------


@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("name", BUNDLE_FILES)
def test_one_changed_byte_in_any_file_is_named(bundle: Path, keys: Keys, name: str, where: str) -> None:
    path = bundle / name
    size = path.stat().st_size
    _flip(path, {"first": 0, "middle": size // 2, "last": size - 1}[where])
    for cert_path in (keys.cert, None):
        report = verify_bundle(bundle_dir=bundle, cert_path=cert_path)
        assert not report.ok
        assert _names(report, name), report.problems


def test_changes_to_unsigned_fields_of_manifest_sig_are_caught(bundle: Path, keys: Keys) -> None:
    """The CMS version, algorithm lists and signer id are not signed; a change there must still fail."""
    sig = bundle / MANIFEST_SIG_NAME
    original = sig.read_bytes()
    positions = list(range(0, 70)) + list(range(70, len(original), 41))
    for index in positions:
        _flip(sig, index)
        report = verify_bundle(bundle_dir=bundle, cert_path=keys.cert)
        assert not report.ok and _names(report, MANIFEST_SIG_NAME), (index, report.problems)
        sig.write_bytes(original)


def test_added_file_is_named(bundle: Path, keys: Keys) -> None:
    (bundle / "figures" / "b.svg").write_text("<svg/>", encoding="utf-8")
    report = verify_bundle(bundle_dir=bundle, cert_path=keys.cert)
    assert not report.ok
    assert report.problems == ["figures/b.svg: not listed in manifest (added after signing)"]


def test_deleted_file_is_named(bundle: Path, keys: Keys) -> None:
    (bundle / "audit.json").unlink()
    report = verify_bundle(bundle_dir=bundle, cert_path=keys.cert)
    assert not report.ok
    assert report.problems == ["audit.json: listed in manifest but missing"]


def test_deleted_signature_is_named(bundle: Path, keys: Keys) -> None:
    (bundle / MANIFEST_SIG_NAME).unlink()
    report = verify_bundle(bundle_dir=bundle, cert_path=keys.cert)
    assert not report.ok and _names(report, MANIFEST_SIG_NAME)


def test_another_certificate_fails_naming_manifest_sig(sealed: Path, other_keys: Keys) -> None:
    report = verify_bundle(bundle_dir=sealed, cert_path=other_keys.cert)
    assert not report.ok
    assert any(p.startswith("manifest.sig: signed by CN=Test Auditor") for p in report.problems), report.problems
    assert any(p.startswith("report.pdf: embedded PDF signature is not by the trusted") for p in report.problems)


def test_a_bundle_resealed_with_another_key_is_only_self_consistent(bundle: Path, keys: Keys, other_keys: Keys) -> None:
    (bundle / "audit.json").write_text('{"findings": ["forged"]}', encoding="utf-8")
    seal_bundle(bundle_dir=bundle, key_path=other_keys.key, cert_path=other_keys.cert, info=INFO)
    self_consistent = verify_bundle(bundle_dir=bundle)
    assert self_consistent.signer.startswith("CN=Someone Else")
    # only the PDF, still signed with the original key, betrays it
    assert self_consistent.problems == [
        f"report.pdf: embedded PDF signature is not by the trusted certificate {self_consistent.signer}"
    ]
    report = verify_bundle(bundle_dir=bundle, cert_path=keys.cert)
    assert not report.ok and _names(report, MANIFEST_SIG_NAME)


def test_pdf_changed_after_signing_is_named(bundle: Path, keys: Keys) -> None:
    """An unsigned incremental update after the signature (then a fresh seal) is caught by the coverage check."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    pdf = bundle / "report.pdf"
    with open(pdf, "rb") as fh:
        writer = IncrementalPdfFileWriter(fh, strict=False)
        writer.root["/Lang"] = generic.TextStringObject("en")
        writer.update_root()
        with open(bundle / "changed.pdf", "wb") as out:
            writer.write(out)
    (bundle / "changed.pdf").replace(pdf)
    seal_bundle(bundle_dir=bundle, key_path=keys.key, cert_path=keys.cert, info=INFO)
    report = verify_bundle(bundle_dir=bundle, cert_path=keys.cert)
    assert not report.ok
    assert report.problems == ["report.pdf: changed after signing (an incremental update was appended)"]


def test_unsigned_pdf_is_named(bundle: Path, keys: Keys, unsigned_pdf: Path) -> None:
    shutil.copy(unsigned_pdf, bundle / "report.pdf")
    seal_bundle(bundle_dir=bundle, key_path=keys.key, cert_path=keys.cert, info=INFO)
    report = verify_bundle(bundle_dir=bundle, cert_path=keys.cert)
    assert report.problems == ["report.pdf: has no embedded PDF signature"]


def test_verification_logs_no_tracebacks(sealed: Path, other_keys: Keys, caplog, capfd) -> None:
    caplog.set_level(logging.DEBUG)
    report = verify_bundle(bundle_dir=sealed, cert_path=other_keys.cert)
    assert not report.ok
    assert not [record for record in caplog.records if record.exc_info]
    assert capfd.readouterr().err == ""


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(AuditInputError) as info:
        verify_bundle(bundle_dir=tmp_path)
    assert info.value.template == errors.BUNDLE_NOT_FOUND


# --- keys -------------------------------------------------------------------------


def test_generate_keypair_refuses_to_overwrite(keys: Keys, tmp_path: Path) -> None:
    key_before = keys.key.read_bytes()
    with pytest.raises(AuditInputError) as info:
        generate_keypair(key_path=keys.key, cert_path=tmp_path / "new-cert.pem", common_name="X")
    assert info.value.template == errors.KEY_EXISTS
    assert str(keys.key) in str(info.value)
    assert keys.key.read_bytes() == key_before
    assert not (tmp_path / "new-cert.pem").exists()


def test_generate_keypair_overwrites_when_asked(tmp_path: Path) -> None:
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    key.write_text("old")
    key.chmod(0o644)
    generate_keypair(key_path=key, cert_path=cert, common_name="New", overwrite=True)
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_generated_key_is_private_and_certificate_is_its_own_ca(keys: Keys) -> None:
    from cryptography import x509

    assert stat.S_IMODE(keys.key.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(keys.cert.read_bytes())
    assert cert.issuer == cert.subject
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and usage.key_cert_sign


def test_malformed_key_or_certificate_is_an_input_error(
    tmp_path: Path, keys: Keys, other_keys: Keys, sealed: Path
) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    cases = [
        (bad, keys.cert, "key"),
        (keys.key, bad, "certificate"),
        (tmp_path / "missing.pem", keys.cert, "key"),
    ]
    for key_path, cert_path, what in cases:
        with pytest.raises(AuditInputError) as info:
            seal_bundle(bundle_dir=tmp_path, key_path=key_path, cert_path=cert_path, info={})
        assert info.value.template == errors.KEY_LOAD_FAILED
        assert info.value.fields["what"] == what
    with pytest.raises(AuditInputError) as info:  # a key that does not belong to the certificate
        seal_bundle(bundle_dir=tmp_path, key_path=other_keys.key, cert_path=keys.cert, info={})
    assert info.value.template == errors.SIGNING_KEY_MISMATCH
    assert not (tmp_path / MANIFEST_NAME).exists()
    with pytest.raises(AuditInputError) as info:
        verify_bundle(bundle_dir=sealed, cert_path=bad)
    assert info.value.template == errors.KEY_LOAD_FAILED


# --- signing material is checked before any work (issue 10) -------------------------


def _keys_valid(folder: Path, start: dt.datetime, end: dt.datetime, name: str = "Dated signer") -> Keys:
    """A self-signed key and certificate valid from ``start`` to ``end`` (generate_keypair always starts now)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .sign(key, hashes.SHA256())
    )
    keys = Keys.__new__(Keys)
    keys.key, keys.cert = folder / "key.pem", folder / "cert.pem"
    keys.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    keys.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return keys


def _encrypted(keys: Keys, path: Path, password: bytes) -> Path:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(keys.key.read_bytes(), password=None)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.BestAvailableEncryption(password)))
    return path


TODAY = dt.datetime.now(dt.UTC).date()


@pytest.fixture
def bad_material(tmp_path: Path, keys: Keys, other_keys: Keys) -> dict[str, tuple[Path, Path, dt.date, str]]:
    """Each kind of signing material audit must refuse: (key, certificate, audit date, template)."""
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"\x00\x01 this is not a key \xff" * 10)
    expired = _keys_valid(tmp_path / "expired", dt.datetime(2020, 1, 1), dt.datetime(2021, 1, 1))
    future = _keys_valid(tmp_path / "future", dt.datetime(2099, 1, 1), dt.datetime(2100, 1, 1))
    return {
        "key-of-another-certificate": (other_keys.key, keys.cert, TODAY, errors.SIGNING_KEY_MISMATCH),
        "not-a-key": (junk, keys.cert, TODAY, errors.KEY_LOAD_FAILED),
        "certificate-given-as-key": (keys.cert, keys.cert, TODAY, errors.KEY_LOAD_FAILED),
        "encrypted-key-no-password": (_encrypted(keys, tmp_path / "enc.pem", b"s3cret"), keys.cert, TODAY,
                                      errors.SIGNING_KEY_PASSWORD_MISSING),
        "expired-certificate": (expired.key, expired.cert, TODAY, errors.SIGNING_CERT_EXPIRED),
        "certificate-not-yet-valid": (future.key, future.cert, TODAY, errors.SIGNING_CERT_NOT_YET_VALID),
        # valid on the audit date, but the bundle is signed now
        "expired-now-valid-on-audit-date": (expired.key, expired.cert, dt.date(2020, 6, 1),
                                            errors.SIGNING_CERT_EXPIRED),
        # valid now, but not yet on the audit date
        "valid-now-not-on-audit-date": (keys.key, keys.cert, dt.date(2020, 6, 1), errors.SIGNING_CERT_NOT_YET_VALID),
    }


BAD_MATERIAL = ["key-of-another-certificate", "not-a-key", "certificate-given-as-key", "encrypted-key-no-password",
                "expired-certificate", "certificate-not-yet-valid", "expired-now-valid-on-audit-date",
                "valid-now-not-on-audit-date"]


@pytest.mark.parametrize("case", BAD_MATERIAL)
def test_check_signing_material_refuses(bad_material, case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from audit.signing import KEY_PASSWORD_ENV, check_signing_material

    monkeypatch.delenv(KEY_PASSWORD_ENV, raising=False)
    key, cert, on, template = bad_material[case]
    with pytest.raises(AuditInputError) as info:
        check_signing_material(key, cert, on=on)
    assert info.value.template == template
    message = str(info.value)
    assert "\n" not in message
    assert str(key if template in (errors.KEY_LOAD_FAILED, errors.SIGNING_KEY_MISMATCH,
                                   errors.SIGNING_KEY_PASSWORD_MISSING) else cert) in message


def test_certificate_validity_messages_say_when(bad_material, monkeypatch: pytest.MonkeyPatch) -> None:
    from audit.signing import check_signing_material

    def message(case: str) -> str:
        key, cert, on, _ = bad_material[case]
        with pytest.raises(AuditInputError) as info:
            check_signing_material(key, cert, on=on)
        return str(info.value)

    assert "expired on 2021-01-01 00:00:00 UTC, before the audit date" in message("expired-certificate")
    assert "valid only from 2099-01-01 00:00:00 UTC, after the audit date" in message("certificate-not-yet-valid")
    assert "expired on 2021-01-01 00:00:00 UTC, before now (" in message("expired-now-valid-on-audit-date")
    assert "after the audit date 2020-06-01" in message("valid-now-not-on-audit-date")


def test_an_encrypted_key_opens_with_the_password_from_the_environment(
    tmp_path: Path, keys: Keys, unsigned_pdf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audit.signing import KEY_PASSWORD_ENV, check_signing_material

    assert KEY_PASSWORD_ENV == "AUDIT_KEY_PASSWORD"
    encrypted = _encrypted(keys, tmp_path / "enc.pem", b"s3cret")
    monkeypatch.setenv(KEY_PASSWORD_ENV, "wrong")
    with pytest.raises(AuditInputError) as info:
        check_signing_material(encrypted, keys.cert, on=TODAY)
    assert info.value.template == errors.SIGNING_KEY_PASSWORD_WRONG
    assert "AUDIT_KEY_PASSWORD" in str(info.value) and "wrong" not in str(info.value)  # never echo the password

    monkeypatch.setenv(KEY_PASSWORD_ENV, "s3cret")
    check_signing_material(encrypted, keys.cert, on=TODAY)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    sign_pdf(pdf_in=unsigned_pdf, pdf_out=bundle / "report.pdf", key_path=encrypted, cert_path=keys.cert, reason="x")
    seal_bundle(bundle_dir=bundle, key_path=encrypted, cert_path=keys.cert, info=INFO)
    report = verify_bundle(bundle_dir=bundle, cert_path=keys.cert)
    assert report.ok, report.problems


def test_the_password_is_never_read_from_the_spec(tmp_path: Path) -> None:
    from audit.spec import load_spec

    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec["signing"]["password"] = "s3cret"
    spec["attestations_file"] = str(EXAMPLE / "attestations.yaml")
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(AuditInputError) as info:
        load_spec(path)
    assert "signing.password" in str(info.value)


def _spec_signed_with(tmp_path: Path, key: Path, cert: Path, on: dt.date) -> Path:
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec["model"]["path"] = str(EXAMPLE / "model.skops")
    spec["data"]["path"] = str(EXAMPLE / "german_credit.csv")
    spec["attestations_file"] = str(EXAMPLE / "attestations.yaml")
    spec["signing"] = {"key": str(key), "certificate": str(cert)}
    spec["output"] = str(tmp_path / "reports")
    if on != TODAY:
        spec["audit_date"] = on.isoformat()
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.mark.parametrize("case", BAD_MATERIAL)
def test_run_audit_refuses_bad_signing_material_before_any_work(
    bad_material, case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audit import pipeline
    from audit.signing import KEY_PASSWORD_ENV

    def no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("the data was loaded before the signing material was checked")

    monkeypatch.delenv(KEY_PASSWORD_ENV, raising=False)
    monkeypatch.setattr(pipeline, "load_subject", no_work)
    key, cert, on, template = bad_material[case]
    with pytest.raises(AuditInputError) as info:
        pipeline.run_audit(_spec_signed_with(tmp_path, key, cert, on), output=tmp_path / "reports")
    assert info.value.template == template
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").rglob("*.*"))


@pytest.mark.parametrize("case", ["expired-certificate", "encrypted-key-no-password", "key-of-another-certificate"])
def test_audit_run_says_so_in_one_line_at_once(bad_material, case: str, tmp_path: Path) -> None:
    import os
    import sys
    import time

    key, cert, on, _template = bad_material[case]
    spec = _spec_signed_with(tmp_path, key, cert, on)
    env = {k: v for k, v in os.environ.items() if k != "AUDIT_KEY_PASSWORD"}
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "audit", "run", str(spec)], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=120)
    seconds = time.monotonic() - start
    assert result.returncode == 2, result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    expected = {"expired-certificate": [str(cert), "expired on 2021-01-01"],
                "encrypted-key-no-password": [str(key), "AUDIT_KEY_PASSWORD"],
                "key-of-another-certificate": [str(key), "does not belong to the certificate"]}[case]
    for fragment in expected:
        assert fragment in lines[0]
    assert seconds < 20, f"refused only after {seconds:.1f} s"
    assert not (tmp_path / "reports").exists() or not any((tmp_path / "reports").rglob("*.*"))


def test_audit_run_help_names_the_password_variable() -> None:
    import sys

    result = subprocess.run([sys.executable, "-m", "audit", "run", "--help"], capture_output=True, text=True,
                            timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert "AUDIT_KEY_PASSWORD" in result.stdout


def test_verify_reports_a_certificate_not_valid_at_signing_time(tmp_path: Path, unsigned_pdf: Path) -> None:
    """The primitives sign with any certificate (audit run refuses first); verify judges it at the signing time."""
    for name, start, end, words in (
        ("expired", dt.datetime(2020, 1, 1), dt.datetime(2021, 1, 1), "had expired at signing time"),
        ("future", dt.datetime(2099, 1, 1), dt.datetime(2100, 1, 1), "was not yet valid at signing time"),
    ):
        dated = _keys_valid(tmp_path / f"{name}-keys", start, end, name=f"{name} signer")
        bundle = tmp_path / name
        bundle.mkdir()
        sign_pdf(pdf_in=unsigned_pdf, pdf_out=bundle / "report.pdf", key_path=dated.key, cert_path=dated.cert,
                 reason="x")
        seal_bundle(bundle_dir=bundle, key_path=dated.key, cert_path=dated.cert, info=INFO)
        report = verify_bundle(bundle_dir=bundle, cert_path=dated.cert)
        assert not report.ok
        assert [p.split(" (signed")[0] for p in report.problems] == [
            f"manifest.sig: its certificate {report.signer} {words}",
            f"report.pdf: embedded PDF signature: its certificate {report.signer} {words}",
        ]
