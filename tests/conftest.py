"""Shared fixtures: the two bundled examples loaded as real Subjects (real data, real models)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Thread counts are set before numpy/sklearn/lightgbm load: 2 cores, tests running side by side.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/factories.py for every test folder

ROOT = Path(__file__).resolve().parents[1]
GERMAN_SPEC = ROOT / "examples" / "german-credit" / "audit.yaml"
ADULT_SPEC = ROOT / "examples" / "adult-hiring" / "audit.yaml"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than a few seconds; few of these")


@pytest.fixture(scope="session")
def german_subject():
    """The German credit example: 500 applicants, one-hot + gradient boosting pipeline."""
    from audit.spec import load_spec
    from audit.subject import load_subject

    return load_subject(load_spec(GERMAN_SPEC))


@pytest.fixture(scope="session")
def adult_subject():
    """The Adult hiring example: 48,842 rows, one-hot + LightGBM pipeline, sex/race/age protected."""
    from audit.spec import load_spec
    from audit.subject import load_subject

    return load_subject(load_spec(ADULT_SPEC))


@pytest.fixture()
def make_ctx():
    """A fresh CheckContext for a Subject (same seed as its spec)."""
    from audit.checks import CheckContext

    def _make(subject, **overrides):
        return CheckContext(spec=subject.spec, seed=subject.spec.seed, **overrides)

    return _make


@pytest.fixture(scope="session")
def signing_pair(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A TEST key and certificate made for this test session (the examples' keys are made by setup, not committed)."""
    from audit.signing import generate_keypair

    folder = tmp_path_factory.mktemp("keys")
    generate_keypair(key_path=folder / "key.pem", cert_path=folder / "cert.pem", common_name="audit tests (TEST KEY)")
    return {"key": str(folder / "key.pem"), "certificate": str(folder / "cert.pem")}
