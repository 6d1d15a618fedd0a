"""Bad input exits 2 with one line naming the problem, no traceback, and no bundle left behind.

Each case runs the real `audit` command in a subprocess, as a user would. The full corpus of bad
inputs (every kind of input, each refused before any work) is tests/test_bad_inputs.py.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from audit import errors

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "german-credit"


def _spec(tmp_path: Path, **changes: object) -> Path:
    """A copy of the example spec in tmp_path with absolute paths and some fields changed."""
    spec = yaml.safe_load((EXAMPLE / "audit.yaml").read_text())
    spec["model"]["path"] = str(EXAMPLE / "model.skops")
    spec["data"]["path"] = str(EXAMPLE / "german_credit.csv")
    spec["attestations_file"] = str(EXAMPLE / "attestations.yaml")
    spec.pop("signing")
    spec["output"] = str(tmp_path / "reports")
    for dotted, value in changes.items():
        node = spec
        *parents, last = dotted.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    path = tmp_path / "audit.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "audit", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def _assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str, tmp_path: Path) -> None:
    assert result.returncode == 2, result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr + result.stdout
    assert len(lines) == 1, result.stderr  # one line, however narrow the terminal (the message is soft-wrapped)
    message = lines[0]
    assert message.startswith("error:") and "the audit could not run" not in message, message
    for fragment in fragments:
        assert fragment in message, message
    reports = tmp_path / "reports"
    assert not reports.exists() or not any(p for p in reports.rglob("*") if p.is_file()), "a bundle was left behind"


def test_missing_spec_file(tmp_path: Path) -> None:
    result = _run("run", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    _assert_one_line_error(result, "audit spec not found", "nope.yaml", tmp_path=tmp_path)


def test_malformed_yaml(tmp_path: Path) -> None:
    path = tmp_path / "audit.yaml"
    path.write_text("system:\n  name: x\n   version: [unclosed\n")
    result = _run("run", str(path), cwd=tmp_path)
    _assert_one_line_error(result, "audit.yaml", "not valid YAML at line", tmp_path=tmp_path)


def test_missing_data_file(tmp_path: Path) -> None:
    result = _run("run", str(_spec(tmp_path, **{"data.path": str(tmp_path / "missing.csv")})), cwd=tmp_path)
    _assert_one_line_error(result, "data file not found", "missing.csv", tmp_path=tmp_path)


def test_unknown_target_column(tmp_path: Path) -> None:
    result = _run("run", str(_spec(tmp_path, **{"data.target": "credit_riskk"})), cwd=tmp_path)
    _assert_one_line_error(result, "column 'credit_riskk'", "data.target", tmp_path=tmp_path)


def test_unknown_protected_column(tmp_path: Path) -> None:
    result = _run("run", str(_spec(tmp_path, **{"data.protected": ["gender"]})), cwd=tmp_path)
    _assert_one_line_error(result, "column 'gender'", "data.protected", tmp_path=tmp_path)


def test_pickle_without_trust(tmp_path: Path) -> None:
    import skops.io as sio

    model = sio.load(EXAMPLE / "model.skops", trusted=sio.get_untrusted_types(file=EXAMPLE / "model.skops"))
    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps(model))
    result = _run("run", str(_spec(tmp_path, **{"model.path": str(pickled), "model.format": "pickle"})), cwd=tmp_path)
    _assert_one_line_error(result, "model.pkl", "arbitrary code", "--trust-model", tmp_path=tmp_path)


def test_empty_data(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    pd.read_csv(EXAMPLE / "german_credit.csv").head(0).to_csv(empty, index=False)
    result = _run("run", str(_spec(tmp_path, **{"data.path": str(empty)})), cwd=tmp_path)
    _assert_one_line_error(result, "empty.csv", "no rows", tmp_path=tmp_path)


def test_target_with_one_class(tmp_path: Path) -> None:
    one = tmp_path / "one_class.csv"
    data = pd.read_csv(EXAMPLE / "german_credit.csv")
    data[data["credit_risk"] == "good"].to_csv(one, index=False)
    result = _run("run", str(_spec(tmp_path, **{"data.path": str(one)})), cwd=tmp_path)
    _assert_one_line_error(result, "one_class.csv", "only one class", "'good'", tmp_path=tmp_path)


def test_unknown_spec_field_names_the_field(tmp_path: Path) -> None:
    result = _run("run", str(_spec(tmp_path, **{"system.role": "owner"})), cwd=tmp_path)
    _assert_one_line_error(result, "field 'system.role'", tmp_path=tmp_path)


def test_verify_on_a_folder_that_is_no_bundle(tmp_path: Path) -> None:
    result = _run("verify", str(tmp_path), cwd=tmp_path)
    _assert_one_line_error(result, "not an audit bundle", tmp_path=tmp_path)


def test_message_constants_are_what_users_see() -> None:
    """Named constants format to the exact text the CLI prints."""
    exc = errors.AuditInputError(errors.DATA_EMPTY, path="x.csv")
    assert str(exc) == "x.csv: the data has no rows; give a file with at least one decision"


def test_help_is_instant_and_imports_nothing_heavy() -> None:
    code = "import sys, audit.cli; print(sorted(m for m in ('torch', 'shap', 'sklearn', 'weasyprint') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- user text is printed verbatim: no rich markup, no emoji codes (issue 10) ---------------------------------------

MARKUP = "[red]x[/red]"  # as a path, it is the folders "[red]x[" and "red]"


def test_a_spec_path_with_markup_is_printed_verbatim(tmp_path: Path) -> None:
    for odd in (MARKUP, "[/id]", "[bold]"):
        missing = tmp_path / odd / "audit.yaml"
        result = _run("run", str(missing), cwd=tmp_path)
        _assert_one_line_error(result, f"audit spec not found: {missing}", tmp_path=tmp_path)


def test_a_column_with_markup_is_printed_verbatim(tmp_path: Path) -> None:
    result = _run("run", str(_spec(tmp_path, **{"data.target": MARKUP})), cwd=tmp_path)
    _assert_one_line_error(result, f"column '{MARKUP}' given as data.target", tmp_path=tmp_path)
    result = _run("run", str(_spec(tmp_path, **{"data.protected": ["[/id]"]})), cwd=tmp_path)
    _assert_one_line_error(result, "column '[/id]'", "data.protected", tmp_path=tmp_path)


def test_other_commands_print_user_text_verbatim(tmp_path: Path) -> None:
    result = _run("policies", MARKUP, cwd=tmp_path)
    _assert_one_line_error(result, f"'{MARKUP}'", tmp_path=tmp_path)
    folder = tmp_path / "[/id]"
    folder.mkdir(parents=True)
    result = _run("explain", str(folder), "--id", "[/id]", cwd=tmp_path)
    _assert_one_line_error(result, str(folder), tmp_path=tmp_path)
    result = _run("explain", str(folder), "--id", "x", "--format", "[/id]", cwd=tmp_path)
    _assert_one_line_error(result, "'[/id]'", tmp_path=tmp_path)
    key, cert = tmp_path / MARKUP / "key.pem", tmp_path / MARKUP / "cert.pem"
    result = _run("keygen", "--key", str(key), "--cert", str(cert), "--name", f":AB: {MARKUP}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {key} and {cert}")
    result = _run("keygen", "--key", str(key), "--cert", str(cert), cwd=tmp_path)
    _assert_one_line_error(result, f"{key}: a signing key already exists", tmp_path=tmp_path)


def _key_whose_fingerprint_has(tmp_path: Path, *pairs: str) -> tuple[Path, Path, str]:
    """An EC test key whose certificate's fingerprint, as audit prints it, holds every pair (":AB:" is an emoji code)."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from audit.signing import describe_certificate

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{MARKUP} signer :cd:")])
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    for _ in range(20_000):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .sign(key, hashes.SHA256())
        )
        shown = describe_certificate(cert)
        if all(pair in shown for pair in pairs):
            break
    else:  # pragma: no cover - about 1 in 80 certificates has both pairs
        raise AssertionError(f"no certificate with {pairs} in its fingerprint")
    key_path, cert_path = tmp_path / "ec-key.pem", tmp_path / "ec-cert.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path, shown


def test_verify_prints_fingerprints_and_file_names_verbatim(tmp_path: Path) -> None:
    from audit.signing import seal_bundle

    key, cert, shown = _key_whose_fingerprint_has(tmp_path, ":AB:", ":CD:")
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "audit.json").write_text("{}", encoding="utf-8")
    seal_bundle(bundle_dir=bundle, key_path=key, cert_path=cert, info={})
    result = _run("verify", str(bundle), "--cert", str(cert), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"signer: {shown}\n" in result.stdout
    assert "\U0001f18e" not in result.stdout and "\U0001f4bf" not in result.stdout  # 🆎 and 💿

    added = "[bold]added[not]:AB:.txt"
    (bundle / added).write_text("x", encoding="utf-8")
    result = _run("verify", str(bundle), "--cert", str(cert), cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAIL {added}: not listed in manifest (added after signing)\n" in result.stdout
    assert "Traceback" not in result.stderr


def test_the_verify_printer_keeps_markup_and_emoji_codes_as_text() -> None:
    """The function `audit verify` prints with, on the console it prints to, fed every kind of odd text."""
    import io

    from audit.cli import _console, print_verify_report
    from audit.verify import VerifyReport

    fingerprint = ":".join(["AB", "CD"] * 16)
    report = VerifyReport(
        ok=False,
        problems=[f"{MARKUP}.svg: not listed in manifest (added after signing)", "[/id]: a symbolic link (to [/])"],
        checks=[f"manifest.sig: valid CMS signature over manifest.json by CN=:cd: [b], SHA-256 {fingerprint}"],
        signer=f"CN=:cd: [b], SHA-256 {fingerprint}",
    )
    out = io.StringIO()
    print_verify_report(report, _console(file=out))
    assert out.getvalue().splitlines() == [
        f"ok   manifest.sig: valid CMS signature over manifest.json by CN=:cd: [b], SHA-256 {fingerprint}",
        f"FAIL {MARKUP}.svg: not listed in manifest (added after signing)",
        "FAIL [/id]: a symbolic link (to [/])",
        f"signer: CN=:cd: [b], SHA-256 {fingerprint}",
        "bundle NOT intact",
    ]
