"""The tamper corpus: every way of changing a sealed bundle that we know of makes `audit verify` exit 1, name the
file or the problem, and finish within seconds.

One real bundle is written once (the pipeline on the German credit example, quick settings, a test key); each case
works on a copy of it, changes it one way, and runs the real `audit verify` command. Two more bundles are signed with
certificates that were not valid when they signed (one expired in 2021, one valid only from 2099), built with
``cryptography`` directly because `audit run` refuses such certificates.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from audit.signing import (
    MANIFEST_NAME,
    MANIFEST_SIG_NAME,
    REPORT_PDF_NAME,
    SIGNER_CERT_NAME,
    generate_keypair,
    seal_bundle,
    sign_pdf,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "german-credit"
SECONDS = 10.0  # every verify, whatever was done to the bundle


@dataclass(frozen=True)
class Keys:
    key: Path
    cert: Path


@dataclass(frozen=True)
class Corpus:
    sealed: Path  # the bundle audit wrote; never changed
    keys: Keys  # that signed it
    other: Keys  # someone else's
    unsigned_pdf: bytes  # report.pdf as WeasyPrint wrote it, before it was signed
    expired: Path  # the same bundle signed with a certificate that expired in 2021
    expired_keys: Keys
    future: Path  # ... with a certificate valid only from 2099
    future_keys: Keys


def _keys(folder: Path, name: str) -> Keys:
    keys = Keys(folder / "key.pem", folder / "cert.pem")
    generate_keypair(key_path=keys.key, cert_path=keys.cert, common_name=name)
    return keys


def _keys_valid(folder: Path, name: str, start: dt.datetime, end: dt.datetime) -> Keys:
    """A self-signed RSA key and certificate valid from ``start`` to ``end``, as generate_keypair would make them."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    usage = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    keys = Keys(folder / "key.pem", folder / "cert.pem")
    keys.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    keys.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return keys


def _info(bundle: Path) -> dict:
    return json.loads((bundle / MANIFEST_NAME).read_text(encoding="utf-8"))["audit"]


def _resign(bundle: Path, unsigned_pdf: bytes, keys: Keys) -> None:
    """Sign the report again from its unsigned bytes and seal the bundle with ``keys`` (what a key holder can do)."""
    unsigned = bundle.parent / "unsigned.pdf"
    unsigned.write_bytes(unsigned_pdf)
    sign_pdf(pdf_in=unsigned, pdf_out=bundle / REPORT_PDF_NAME, key_path=keys.key, cert_path=keys.cert,
             reason="Audit report")
    unsigned.unlink()
    seal_bundle(bundle_dir=bundle, key_path=keys.key, cert_path=keys.cert, info=_info(bundle))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    from audit.pipeline import run_audit

    work = tmp_path_factory.mktemp("tamper")
    keys = _keys(work / "keys", "tamper corpus (TEST KEY)")
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec["model"]["path"] = str(EXAMPLE / "model.skops")
    spec["data"]["path"] = str(EXAMPLE / "german_credit.csv")
    spec["attestations_file"] = str(EXAMPLE / "attestations.yaml")
    spec["signing"] = {"key": str(keys.key), "certificate": str(keys.cert)}
    spec["explanations"] = {"lime_sample": 0}
    spec.setdefault("fairness", {})["bootstrap"] = 50
    (work / "audit.yaml").write_text(yaml.safe_dump(spec))
    sealed = run_audit(work / "audit.yaml", output=work / "reports").bundle_dir

    signed = (sealed / REPORT_PDF_NAME).read_bytes()
    eof = signed.index(b"%%EOF") + len(b"%%EOF")
    unsigned_pdf = signed[: eof + (1 if signed[eof : eof + 1] == b"\n" else 0)]  # WeasyPrint's file ends here

    built = {}
    for name, start, end in (("expired", dt.datetime(2020, 1, 1), dt.datetime(2021, 1, 1)),
                             ("future", dt.datetime(2099, 1, 1), dt.datetime(2100, 1, 1))):
        bundle_keys = _keys_valid(work / f"{name}-keys", f"{name} signer (TEST KEY)", start, end)
        bundle = work / name / "bundle"
        shutil.copytree(sealed, bundle)
        _resign(bundle, unsigned_pdf, bundle_keys)
        built[name] = (bundle, bundle_keys)
    return Corpus(sealed=sealed, keys=keys, other=_keys(work / "other-keys", "Someone Else"),
                  unsigned_pdf=unsigned_pdf, expired=built["expired"][0], expired_keys=built["expired"][1],
                  future=built["future"][0], future_keys=built["future"][1])


def _verify(bundle: Path, cert: Path | None) -> tuple[subprocess.CompletedProcess[str], float]:
    command = [sys.executable, "-m", "audit", "verify", str(bundle)] + (["--cert", str(cert)] if cert else [])
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    return result, time.monotonic() - start


# --- the tamperings: each changes the copy in place and returns what verify must say ----------------------------


Tamper = Callable[[Path, Corpus], list[str]]


def _flip(rel: str | None = None, *, where: str = "middle", pick: str | None = None) -> Tamper:
    """Change one byte of a file (``pick``: a glob, the first match is changed)."""

    def apply(bundle: Path, corpus: Corpus) -> list[str]:
        name = rel or sorted(p.relative_to(bundle).as_posix() for p in bundle.glob(pick or ""))[0]
        path = bundle / name
        data = bytearray(path.read_bytes())
        index = {"first": 0, "middle": len(data) // 2, "last": len(data) - 1}[where]
        data[index] ^= 0xFF
        path.write_bytes(bytes(data))
        return [name]

    return apply


def _remove(rel: str, *expect: str) -> Tamper:
    def apply(bundle: Path, corpus: Corpus) -> list[str]:
        (bundle / rel).unlink()
        return list(expect) or [f"{rel}: listed in manifest but missing"]

    return apply


def _add_file(rel: str, *expect: str) -> Tamper:
    def apply(bundle: Path, corpus: Corpus) -> list[str]:
        (bundle / rel).parent.mkdir(parents=True, exist_ok=True)
        (bundle / rel).write_text("added after signing\n", encoding="utf-8")
        return list(expect) or [f"{rel}: not listed in manifest (added after signing)"]

    return apply


def _rename(bundle: Path, corpus: Corpus) -> list[str]:
    (bundle / "metrics.csv").rename(bundle / "metrics-v2.csv")
    return ["metrics.csv: listed in manifest but missing", "metrics-v2.csv: not listed in manifest (added after signing)"]


def _symlink_to_file(bundle: Path, corpus: Corpus) -> list[str]:
    (bundle / "figures" / "summary.svg").symlink_to(sorted((bundle / "figures").glob("*.svg"))[0].name)
    return ["figures/summary.svg: a symbolic link"]


def _listed_file_replaced_by_symlink(bundle: Path, corpus: Corpus) -> list[str]:
    """report.html moved out of the bundle and linked back: same bytes, same hash, but not in the bundle."""
    outside = bundle.parent / "elsewhere.html"
    (bundle / "report.html").rename(outside)
    (bundle / "report.html").symlink_to(outside)
    return [f"report.html: a symbolic link (to {outside})"]


def _pdf_replaced_by_symlink(bundle: Path, corpus: Corpus) -> list[str]:
    outside = bundle.parent / "genuine.pdf"
    shutil.copy(corpus.sealed / REPORT_PDF_NAME, outside)
    (bundle / REPORT_PDF_NAME).unlink()
    (bundle / REPORT_PDF_NAME).symlink_to(outside)
    return ["report.pdf: a symbolic link"]


def _symlink_to_folder(bundle: Path, corpus: Corpus) -> list[str]:
    (bundle / "charts").symlink_to("figures", target_is_directory=True)
    return ["charts: a symbolic link (to figures)"]


def _symlink_to_folder_outside(bundle: Path, corpus: Corpus) -> list[str]:
    outside = bundle.parent / "evidence"
    outside.mkdir()
    (outside / "more.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (bundle / "evidence").symlink_to(outside, target_is_directory=True)
    return [f"evidence: a symbolic link (to {outside})"]


def _folder_replaced_by_symlink(bundle: Path, corpus: Corpus) -> list[str]:
    """figures/ moved out and linked back: every figure still has its bytes, behind a link."""
    outside = bundle.parent / "figures-elsewhere"
    (bundle / "figures").rename(outside)
    (bundle / "figures").symlink_to(outside, target_is_directory=True)
    first = sorted(p.name for p in outside.glob("*.svg"))[0]
    return ["figures: a symbolic link", f"figures/{first}: listed in manifest but missing"]


def _empty_folder(bundle: Path, corpus: Corpus) -> list[str]:
    (bundle / "extra").mkdir()
    return ["extra/: folder not listed in manifest (added after signing)"]


def _folder_with_files(bundle: Path, corpus: Corpus) -> list[str]:
    (bundle / "annex" / "raw").mkdir(parents=True)
    (bundle / "annex" / "raw" / "data.csv").write_text("x\n1\n", encoding="utf-8")
    return ["annex/: folder not listed in manifest (added after signing)"]


def _pipe(rel: str) -> Tamper:
    """A named pipe: reading it would block for ever."""

    def apply(bundle: Path, corpus: Corpus) -> list[str]:
        if (bundle / rel).exists():
            (bundle / rel).unlink()
        os.mkfifo(bundle / rel)
        return [f"{rel}: not a regular file"]

    return apply


def _manifest_hash_edited(bundle: Path, corpus: Corpus) -> list[str]:
    """audit.json changed and its hash in the manifest updated to match: only the signature can tell."""
    import hashlib

    (bundle / "audit.json").write_text('{"verdict": "PASS"}\n', encoding="utf-8")
    manifest = json.loads((bundle / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest["files"]["audit.json"] = {"sha256": hashlib.sha256(b'{"verdict": "PASS"}\n').hexdigest(), "bytes": 20}
    (bundle / MANIFEST_NAME).write_text(json.dumps(manifest, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    return [f"{MANIFEST_NAME}: signature does not verify"]


def _manifest_entry_dropped(bundle: Path, corpus: Corpus) -> list[str]:
    manifest = json.loads((bundle / MANIFEST_NAME).read_text(encoding="utf-8"))
    del manifest["files"]["metrics.csv"]
    (bundle / MANIFEST_NAME).write_text(json.dumps(manifest, sort_keys=True, indent=2) + "\n", encoding="utf-8")
    return [f"{MANIFEST_NAME}: signature does not verify", "metrics.csv: not listed in manifest"]


def _manifest_sig_replaced(bundle: Path, corpus: Corpus) -> list[str]:
    """manifest.sig replaced by someone else's valid signature over the same manifest."""
    from audit.signing import sign_manifest

    sign_manifest(bundle_dir=bundle, key_path=corpus.other.key, cert_path=corpus.other.cert)
    return [f"{MANIFEST_SIG_NAME}: signed by CN=Someone Else"]


def _signer_cert_swapped(bundle: Path, corpus: Corpus) -> list[str]:
    shutil.copy(corpus.other.cert, bundle / SIGNER_CERT_NAME)
    return [f"{SIGNER_CERT_NAME}: sha256 differs from manifest",
            f"{SIGNER_CERT_NAME}: is not the certificate that signed {MANIFEST_NAME}"]


def _resealed_by_someone_else(bundle: Path, corpus: Corpus) -> list[str]:
    """audit.json forged and the bundle sealed again with another key; the PDF keeps the original signature."""
    (bundle / "audit.json").write_text('{"verdict": "PASS"}\n', encoding="utf-8")
    seal_bundle(bundle_dir=bundle, key_path=corpus.other.key, cert_path=corpus.other.cert, info=_info(bundle))
    return [f"{MANIFEST_SIG_NAME}: signed by CN=Someone Else"]


def _resealed_self_consistent(bundle: Path, corpus: Corpus) -> list[str]:
    """The same, checked without --cert: the forged seal is self-consistent, the PDF's signature betrays it."""
    _resealed_by_someone_else(bundle, corpus)
    return ["report.pdf: embedded PDF signature is not by the trusted certificate CN=Someone Else"]


def _append_signature(pdf: Path, keys: Keys) -> None:
    """Sign the already signed PDF again, as a second incremental update (another signature field)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    signer = signers.SimpleSigner.load(str(keys.key), str(keys.cert))
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf.read_bytes()), strict=False)
    meta = signers.PdfSignatureMetadata(field_name="SecondSignature", md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES)
    out = io.BytesIO()
    signers.sign_pdf(writer, meta, signer=signer, output=out)
    pdf.write_bytes(out.getvalue())


def _append_update(pdf: Path) -> None:
    """An incremental update with no signature: the document's language set after signing."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf.read_bytes()), strict=False)
    writer.root["/Lang"] = generic.TextStringObject("de")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    pdf.write_bytes(out.getvalue())


SECOND_SIGNATURE = "report.pdf: changed after signing (an incremental update with a second signature was appended"
UPDATE = "report.pdf: changed after signing (an incremental update was appended)"


def _second_signature(by: str, *, reseal: bool) -> Tamper:
    def apply(bundle: Path, corpus: Corpus) -> list[str]:
        _append_signature(bundle / REPORT_PDF_NAME, corpus.keys if by == "same" else corpus.other)
        if reseal:  # the signer's own key seals the changed bundle again: only the PDF's revisions tell
            seal_bundle(bundle_dir=bundle, key_path=corpus.keys.key, cert_path=corpus.keys.cert, info=_info(bundle))
            return [SECOND_SIGNATURE]
        return [SECOND_SIGNATURE, "report.pdf: sha256 differs from manifest"]

    return apply


def _unsigned_update(*, reseal: bool) -> Tamper:
    def apply(bundle: Path, corpus: Corpus) -> list[str]:
        _append_update(bundle / REPORT_PDF_NAME)
        if reseal:
            seal_bundle(bundle_dir=bundle, key_path=corpus.keys.key, cert_path=corpus.keys.cert, info=_info(bundle))
            return [UPDATE]
        return [UPDATE, "report.pdf: sha256 differs from manifest"]

    return apply


def _truncate(keep: str) -> Tamper:
    def apply(bundle: Path, corpus: Corpus) -> list[str]:
        pdf = bundle / REPORT_PDF_NAME
        data = pdf.read_bytes()
        pdf.write_bytes(data[:-100] if keep == "all but 100 bytes" else data[: len(data) // 2])
        seal_bundle(bundle_dir=bundle, key_path=corpus.keys.key, cert_path=corpus.keys.cert, info=_info(bundle))
        return ["report.pdf: truncated"] if keep == "all but 100 bytes" else ["report.pdf: "]

    return apply


def _garbage_appended(bundle: Path, corpus: Corpus) -> list[str]:
    pdf = bundle / REPORT_PDF_NAME
    pdf.write_bytes(pdf.read_bytes() + b"\n% a comment added later\n")
    seal_bundle(bundle_dir=bundle, key_path=corpus.keys.key, cert_path=corpus.keys.cert, info=_info(bundle))
    return ["report.pdf: changed after signing (", "bytes were appended after the signed end of the file)"]


def _pdf_unsigned(bundle: Path, corpus: Corpus) -> list[str]:
    (bundle / REPORT_PDF_NAME).write_bytes(corpus.unsigned_pdf)
    return ["report.pdf: has no embedded PDF signature", "report.pdf: sha256 differs from manifest"]


def _bracketed_names(bundle: Path, corpus: Corpus) -> list[str]:
    names = ["[red]x[/red]", "[bold]evidence[not].svg", "[@click]", "a:AB:b:CD:c"]
    (bundle / "[red]x[").mkdir()
    (bundle / "[red]x[" / "red]").write_text("x", encoding="utf-8")  # the path reads [red]x[/red]
    for name in names[1:]:
        (bundle / name).write_text("x", encoding="utf-8")
    return ["[red]x[/: folder not listed in manifest"] + [f"{name}: not listed in manifest" for name in names[1:]]


def _control_characters_in_a_name(bundle: Path, corpus: Corpus) -> list[str]:
    """A name that would print a fake verdict line is shown escaped, on its own line."""
    name = "x\nbundle intact"
    (bundle / name).write_text("x", encoding="utf-8")
    return [f"{name!r}: not listed in manifest (added after signing)"]


def _expired(bundle: Path, corpus: Corpus) -> list[str]:
    return [f"{MANIFEST_SIG_NAME}: its certificate CN=expired signer (TEST KEY)", "had expired at signing time",
            "valid until 2021-01-01 00:00:00 UTC",
            "report.pdf: embedded PDF signature: its certificate CN=expired signer (TEST KEY)"]


def _not_yet_valid(bundle: Path, corpus: Corpus) -> list[str]:
    return [f"{MANIFEST_SIG_NAME}: its certificate CN=future signer (TEST KEY)", "was not yet valid at signing time",
            "valid from 2099-01-01 00:00:00 UTC", "report.pdf: embedded PDF signature: its certificate"]


@dataclass(frozen=True)
class Case:
    id: str
    apply: Tamper
    base: str = "sealed"  # or "expired", "future"
    trust: str = "keys"  # the certificate given to --cert: keys (the signer's), bundle (its own), none


CASES = [
    Case("byte-report.pdf-first", _flip("report.pdf", where="first")),
    Case("byte-report.pdf-middle", _flip("report.pdf")),
    Case("byte-report.pdf-last", _flip("report.pdf", where="last")),
    Case("byte-report.html", _flip("report.html")),
    Case("byte-audit.json", _flip("audit.json")),
    Case("byte-decisions.parquet", _flip("decisions.parquet")),
    Case("byte-metrics.csv", _flip("metrics.csv")),
    Case("byte-figure.svg", _flip(pick="figures/*.svg")),
    Case("byte-signer-cert.pem", _flip(SIGNER_CERT_NAME)),
    Case("byte-manifest.json", _flip(MANIFEST_NAME)),
    Case("byte-manifest.sig", _flip(MANIFEST_SIG_NAME)),
    Case("byte-manifest.sig-self-consistent", _flip(MANIFEST_SIG_NAME, where="last"), trust="none"),
    Case("removed-audit.json", _remove("audit.json")),
    Case("removed-report.pdf", _remove("report.pdf")),
    Case("removed-manifest.sig", _remove(MANIFEST_SIG_NAME, f"{MANIFEST_SIG_NAME}: missing")),
    Case("removed-manifest.json", _remove(MANIFEST_NAME, f"{MANIFEST_NAME}: missing")),
    Case("removed-signer-cert.pem", _remove(SIGNER_CERT_NAME), trust="none"),
    Case("added-file", _add_file("notes.txt")),
    Case("added-figure", _add_file("figures/extra.svg")),
    Case("renamed-file", _rename),
    Case("symlink-to-file", _symlink_to_file),
    Case("listed-file-is-symlink", _listed_file_replaced_by_symlink),
    Case("report.pdf-is-symlink-to-genuine-copy", _pdf_replaced_by_symlink),
    Case("symlink-to-folder", _symlink_to_folder),
    Case("symlink-to-folder-outside", _symlink_to_folder_outside, trust="none"),
    Case("figures-folder-is-symlink", _folder_replaced_by_symlink),
    Case("folder-added-empty", _empty_folder),
    Case("folder-added-with-files", _folder_with_files),
    Case("named-pipe-added", _pipe("figures/live.svg")),
    Case("report.pdf-is-named-pipe", _pipe(REPORT_PDF_NAME)),
    Case("manifest.json-is-named-pipe", _pipe(MANIFEST_NAME)),
    Case("bracketed-file-names", _bracketed_names),
    Case("control-characters-in-name", _control_characters_in_a_name),
    Case("manifest-hash-edited", _manifest_hash_edited),
    Case("manifest-entry-dropped", _manifest_entry_dropped),
    Case("manifest.sig-replaced", _manifest_sig_replaced),
    Case("signer-cert-swapped", _signer_cert_swapped),
    Case("signer-cert-swapped-self-consistent", _signer_cert_swapped, trust="bundle"),
    Case("resealed-by-someone-else", _resealed_by_someone_else),
    Case("resealed-by-someone-else-self-consistent", _resealed_self_consistent, trust="none"),
    Case("pdf-second-signature-by-someone-else", _second_signature("other", reseal=False)),
    Case("pdf-second-signature-same-key-resealed", _second_signature("same", reseal=True)),
    Case("pdf-second-signature-self-consistent", _second_signature("other", reseal=False), trust="none"),
    Case("pdf-update-no-signature", _unsigned_update(reseal=False)),
    Case("pdf-update-no-signature-resealed", _unsigned_update(reseal=True)),
    Case("pdf-truncated-tail", _truncate("all but 100 bytes")),
    Case("pdf-truncated-half", _truncate("half")),
    Case("pdf-bytes-appended-resealed", _garbage_appended),
    Case("pdf-replaced-by-unsigned", _pdf_unsigned),
    Case("expired-certificate", _expired, base="expired", trust="expired"),
    Case("expired-certificate-self-consistent", _expired, base="expired", trust="none"),
    Case("not-yet-valid-certificate", _not_yet_valid, base="future", trust="future"),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_tampering_is_named_within_seconds(
    corpus: Corpus, tmp_path: Path, case: Case, record_property: Callable[[str, object], None]
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree({"sealed": corpus.sealed, "expired": corpus.expired, "future": corpus.future}[case.base], bundle)
    expected = case.apply(bundle, corpus)
    cert = {"keys": corpus.keys.cert, "bundle": corpus.sealed / SIGNER_CERT_NAME, "none": None,
            "expired": corpus.expired_keys.cert, "future": corpus.future_keys.cert}[case.trust]

    result, seconds = _verify(bundle, cert)
    record_property("verify_seconds", round(seconds, 2))

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    assert result.stdout.rstrip().splitlines()[-1] == "bundle NOT intact", output
    for fragment in expected:
        assert fragment in result.stdout, f"{fragment!r} not in:\n{result.stdout}"
    assert seconds < SECONDS, f"verify took {seconds:.1f} s"


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("trust", ["keys", "none"])
def test_the_untouched_bundles_verify(corpus: Corpus, trust: str) -> None:
    """No false alarm: the bundle audit wrote verifies, with the signer's certificate and with its own."""
    result, seconds = _verify(corpus.sealed, corpus.keys.cert if trust == "keys" else None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().splitlines()[-1] == "bundle intact"
    assert "FAIL" not in result.stdout
    assert "report.pdf: embedded PAdES signature intact, valid and covering the whole file" in result.stdout
    assert seconds < SECONDS


def test_verify_keeps_the_meaning_of_cert(corpus: Corpus) -> None:
    """--cert names the certificate the bundle must be signed with: another one fails, naming both signatures."""
    result, _ = _verify(corpus.sealed, corpus.other.cert)
    assert result.returncode == 1
    assert f"{MANIFEST_SIG_NAME}: signed by CN=tamper corpus (TEST KEY)" in result.stdout
    assert "report.pdf: embedded PDF signature is not by the trusted certificate CN=Someone Else" in result.stdout


def test_a_validation_that_overruns_is_cut_off(corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last bound: a library validation that does not finish is abandoned and reported, not waited for."""
    from audit import verify

    def stuck(*args: object, **kwargs: object) -> tuple[list[str], list[str]]:
        time.sleep(5)
        return [], []

    monkeypatch.setattr(verify, "_VALIDATION_SECONDS", 0.3)
    monkeypatch.setattr(verify, "_validate_pdf_signature", stuck)
    start = time.monotonic()
    report = verify.verify_bundle(bundle_dir=corpus.sealed, cert_path=corpus.keys.cert)
    assert time.monotonic() - start < 3
    assert not report.ok
    assert report.problems == ["report.pdf: embedded PDF signature could not be checked within 0.3 s "
                               "(audit writes no PDF that takes this long; treat it as altered)"]
