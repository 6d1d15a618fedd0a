"""The command line: parses, calls the pipeline, sets the exit code. Nothing else.

Exit codes of `audit run`: 0 no requirement in force FAILs, 1 at least one does
(the sign-off gate; `--fail-on review` also fails on REVIEW, `--fail-on readiness`
also on requirements not yet in force), 2 the audit could not run (bad input),
with a one-line reason and no traceback unless --debug. Heavy libraries are imported inside commands
so that `audit --help` answers at once.
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TextIO

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from audit.verify import VerifyReport

__all__ = ["app", "main"]

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2


class FailOn(StrEnum):
    """What makes `audit run` exit 1."""

    FAIL = "fail"
    REVIEW = "review"
    READINESS = "readiness"


app = typer.Typer(
    name="audit",
    help="Compliance audit reports for machine-learning decision systems: evidence, requirements, signed bundles.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
_state = {"debug": False}


def _quiet_libraries() -> None:
    """Users must see none of the libraries' import-time warnings, logs or network calls."""
    import logging
    import warnings

    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # onnxruntime phones home otherwise
    os.environ.setdefault("TQDM_DISABLE", "1")  # dice-ml/shap progress bars ignore verbose=False
    if not _state["debug"]:
        warnings.filterwarnings("ignore")
        # aif360 logs through the root logger at import and installs a handler: configure first.
        logging.basicConfig(level=logging.ERROR)
        for name in ("aif360", "pyhanko", "fontTools", "weasyprint", "shap", "distributed", "matplotlib"):
            logging.getLogger(name).setLevel(logging.ERROR)


def _console(*, stderr: bool = False, file: TextIO | None = None) -> Console:
    """The console every command prints through. Text from users (paths, column and file names, system names,
    certificate subjects) and fingerprints reach it as rich ``Text`` or escaped, so it is printed verbatim:
    no markup (``[red]``, ``[/id]``), no emoji codes (``:AB:`` in a fingerprint), no highlighting."""
    from rich.console import Console

    return Console(stderr=stderr, file=file, highlight=False, emoji=False)


def _fail(message: str) -> None:
    from rich.text import Text

    _console(stderr=True).print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    raise typer.Exit(EXIT_ERROR)


def _guarded(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202 - thin wrapper
    """Run a command body; user errors become one line and exit 2."""
    from audit.errors import AuditInputError

    _quiet_libraries()
    try:
        return fn(*args, **kwargs)
    except typer.Exit:
        raise
    except AuditInputError as exc:
        if _state["debug"]:
            raise
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted; no bundle was written")
    except Exception as exc:  # a bug, not bad input: still one line unless --debug
        if _state["debug"]:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        _fail(f"the audit could not run: {type(exc).__name__}: {first} (run with --debug for the traceback)")


@app.callback()
def _options(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and library warnings.")] = False) -> None:
    _state["debug"] = debug


@app.command()
def run(
    spec: Annotated[Path, typer.Argument(help="The audit.yaml to run.")],
    trust_model: Annotated[bool, typer.Option("--trust-model", help="Load pickle/joblib models, skops files with types of their own, and import the class of a torch state_dict model (model.module): only for files and code you trust.")] = False,
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address (tcp://host:8786): per-decision work runs there, and with a scale: section the partitions.")] = None,
    output: Annotated[Path | None, typer.Option(help="Folder for bundles (default: the spec's output, reports/).")] = None,
    junit: Annotated[Path | None, typer.Option(help="Also write one JUnit test case per requirement to this file.")] = None,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", case_sensitive=False,
        help="What exits 1. fail: a requirement in force FAILs (default). review: also any REVIEW in force "
             "(a gate that wants everything answered). readiness: also a FAIL of a requirement not yet in force.",
    )] = FailOn.FAIL,
    history: Annotated[Path | None, typer.Option(
        help="Audit-history database this run is appended to (default: audit-history.sqlite in the output folder).",
    )] = None,
    no_history: Annotated[bool, typer.Option("--no-history", help="Do not record this run in the audit history.")] = False,
    mlflow: Annotated[bool, typer.Option(
        "--mlflow", help="Also log the audit to MLflow (tracking URI from MLFLOW_TRACKING_URI, else a SQLite store "
                         "beside the bundles). Needs the extra: pip install 'audit[mlflow]'.")] = False,
) -> None:
    """Run an audit and write a signed bundle. Exit 0: passes the gate; 1: it does not (see --fail-on); 2: could not run.

    An encrypted signing key is opened with the password in the environment variable AUDIT_KEY_PASSWORD (never in the spec). The key and certificate are checked before any work: they must belong together, and the certificate must be valid on the audit date and now.
    """

    def body() -> int:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from audit.pipeline import run_audit
        from audit.spec import load_spec

        if mlflow:  # refused before any work, not after the audit
            _need_mlflow()
        db = None
        if not no_history:
            from audit.history import DB_FILE_NAME

            db = history if history is not None else (output or load_spec(spec).output) / DB_FILE_NAME
        console = Console(stderr=True, highlight=False, emoji=False)
        with Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn(),
                      console=console, transient=True, disable=not console.is_terminal) as bar:
            task = bar.add_task("starting", total=None)

            def progress(name: str, done: int, total: int) -> None:
                bar.update(task, description=f"{name} ({done}/{total})" if total > 1 else name)

            outcome = run_audit(spec, trust_model=trust_model, scheduler=scheduler, output=output, progress=progress,
                                history=db)
        if mlflow:
            from audit.integrations.mlflow_log import log_audit

            run_id = log_audit(bundle_dir=outcome.bundle_dir, result=outcome.result, spec_path=spec)
            outcome.notes.append(f"logged to MLflow as run {run_id}")
        if junit is not None:
            from audit.junit import write_junit

            write_junit(outcome.result.findings, junit, suite_name=outcome.result.system["name"], fail_on=fail_on.value)
        _print_summary(outcome, fail_on)
        return EXIT_FAIL if gate_fails(outcome.result, fail_on) else EXIT_OK

    raise typer.Exit(_guarded(body))


@app.command("diff")
def diff_command(
    baseline: Annotated[Path, typer.Argument(help="The approved audit's bundle folder.")],
    new: Annotated[Path, typer.Argument(help="The new audit's bundle folder.")],
    diff_spec: Annotated[Path | None, typer.Option("--spec", help="diff.yaml: margins with set_by, group size, "
                                                                   "bootstrap, signing, output.")] = None,
    output: Annotated[Path | None, typer.Option(help="Folder for the diff bundle (default: the diff spec's, reports/).")] = None,
    junit: Annotated[Path | None, typer.Option(help="Also write one JUnit test case per judged figure.")] = None,
    history: Annotated[Path | None, typer.Option(
        help="Audit-history database the diff is appended to (default: audit-history.sqlite in the output folder).",
    )] = None,
    no_history: Annotated[bool, typer.Option("--no-history", help="Do not record this diff in the audit history.")] = False,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", case_sensitive=False,
                                            help="fail (default): exit 1 when the diff FAILs; review: also on REVIEW.")
                       ] = FailOn.FAIL,
) -> None:
    """Is the new audit no worse than the approved baseline, for every group? Exit 0: yes (or REVIEW); 1: FAIL; 2: could not run.

    Both bundles are verified first (an altered bundle is refused, naming the file). FAIL needs a margin the user
    set in the diff spec (with set_by), or a requirement in force that went from PASS to FAIL.
    """

    def body() -> int:
        import datetime as dt

        from rich.markup import escape

        from audit.compare.bundles import diff_bundles
        from audit.compare.report import write_diff_bundle, write_diff_junit
        from audit.compare.spec import load_diff_spec

        spec = load_diff_spec(diff_spec)
        now = dt.datetime.now(dt.UTC)
        if spec.signing is not None:
            from audit.signing import check_signing_material

            check_signing_material(spec.resolve(spec.signing.key), spec.resolve(spec.signing.certificate),
                                   on=now.date())
        out = output if output is not None else spec.output
        db = None
        if not no_history:
            from audit.history import DB_FILE_NAME, check_before_append

            db = history if history is not None else out / DB_FILE_NAME
            check_before_append(db_path=db)
        result = diff_bundles(baseline=baseline, new=new, spec=spec)
        folder = write_diff_bundle(result, spec=spec, output=out, now=now)
        if junit is not None:
            write_diff_junit(result, junit)
        console = _console()
        colour = {"PASS": "green", "FAIL": "red", "REVIEW": "yellow"}[result.verdict.value]
        console.print(f"[bold {colour}]{result.verdict.value}[/] {escape(result.new.system)}: version "
                      f"{escape(result.new.version)} against {escape(result.baseline.version)}", soft_wrap=True)
        for reason in result.reasons:
            console.print(f"  {escape(reason)}", soft_wrap=True)
        if db is not None:
            from audit.history import record

            entry = record(db_path=db, kind="diff", bundle_dir=folder, system=result.new.system,
                           version=result.new.version, audit_date=result.new.audit_date,
                           verdict=result.verdict.value, counts={"worse": sum(c.judgement == "worse" for c in result.comparisons),
                                                                 "inconclusive": sum(c.judgement == "inconclusive" for c in result.comparisons),
                                                                 "status_changes": len(result.status_changes)},
                           headline={})
            console.print(f"  note: recorded in the audit history {escape(str(db))} as record {entry.seq}",
                          soft_wrap=True)
        console.print(f"diff bundle: {escape(str(folder))}", soft_wrap=True)
        if result.verdict.value == "FAIL" or (fail_on is FailOn.REVIEW and result.verdict.value == "REVIEW"):
            return EXIT_FAIL
        return EXIT_OK

    raise typer.Exit(_guarded(body))


@app.command("attestations")
def attestations_command(
    bundle: Annotated[Path, typer.Argument(help="A bundle folder written by `audit run`.")],
    out: Annotated[Path | None, typer.Option(help="Where to write the form (default: beside the bundle, "
                                                   "attestations-<bundle>.yaml; never inside it).")] = None,
) -> None:
    """Write a YAML form of every open attestation question, to fill in and pass back as attestations_file."""

    def body() -> int:
        from rich.markup import escape

        from audit.attestation_template import write_attestation_template

        path = write_attestation_template(bundle, out)
        _console().print(f"attestation form: {escape(str(path))} (uncomment and fill the entries you can answer, "
                         "then set attestations_file in audit.yaml)", soft_wrap=True)
        return EXIT_OK

    raise typer.Exit(_guarded(body))


def _need_mlflow() -> None:
    """--mlflow without the extra installed: refused in one line before the audit starts."""
    import importlib.util

    from audit.errors import AuditInputError
    from audit.integrations.mlflow_log import MLFLOW_NOT_INSTALLED

    if importlib.util.find_spec("mlflow") is None:
        raise AuditInputError(MLFLOW_NOT_INSTALLED)


@app.command("history")
def history_command(
    db: Annotated[Path, typer.Option("--db", help="The audit-history database.")] = Path("reports") / "audit-history.sqlite",
    verify_records: Annotated[bool, typer.Option(
        "--verify", help="Check the hash chain, its head, each bundle's sealed anchor and that each bundle still "
                         "verifies; exit 1 on any problem.")] = False,
) -> None:
    """List the audits recorded in the history (oldest first); with --verify, check that nobody rewrote it."""

    def body() -> int:
        from rich.markup import escape

        from audit.history import records, verify_history

        console = _console()
        for r in records(db_path=db):
            console.print(f"{r.seq:>4}  {r.recorded_at}  {r.kind:<4}  {r.verdict:<6}  {escape(r.system)} {escape(r.version)}"
                          f"  (audit date {r.audit_date})  {escape(str(r.bundle_path))}", soft_wrap=True)
        if not verify_records:
            return EXIT_OK
        check = verify_history(db_path=db)
        for problem in check.problems:
            console.print(f"  [red]problem[/] {escape(problem)}", soft_wrap=True)
        console.print(f"{'history verified' if check.ok else 'history NOT verified'}: {check.n_records} records, "
                      f"{len(check.problems)} problems", soft_wrap=True)
        return EXIT_OK if check.ok else EXIT_FAIL

    raise typer.Exit(_guarded(body))


def gate_fails(result, fail_on: FailOn) -> bool:  # noqa: ANN001 - AuditResult, imported lazily
    """Whether the sign-off gate says no: a FAIL in force; with ``review`` also a REVIEW in force;
    with ``readiness`` also a FAIL of a requirement not yet in force."""
    in_force = [f for f in result.findings if f.in_force]
    if any(f.status.value == "FAIL" for f in in_force):
        return True
    if fail_on is FailOn.REVIEW and any(f.status.value == "REVIEW" for f in in_force):
        return True
    if fail_on is FailOn.READINESS and any(f.status.value == "FAIL" for f in result.findings if not f.in_force):
        return True
    return False


def _print_summary(outcome, fail_on: FailOn) -> None:  # noqa: ANN001 - RunOutcome, imported lazily
    from rich.markup import escape

    result = outcome.result
    colour = {"PASS": "green", "FAIL": "red", "REVIEW": "yellow"}.get(result.verdict.value, "white")
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
    console = _console()
    console.print(f"[bold {colour}]{result.verdict.value}[/] {escape(str(result.system['name']))} "
                  f"{escape(str(result.system['version']))} (requirements in force on {result.audit_date}): {counts}",
                  soft_wrap=True)
    if result.readiness_verdict is not None:
        later = ", ".join(f"{k} {v}" for k, v in result.readiness_counts.items())
        console.print(f"readiness (not yet in force, never decides the verdict): {later}", soft_wrap=True)
    for alert in result.alerts:
        console.print(f"  [bold red]warning[/] {escape(alert)}", soft_wrap=True)
    for finding in result.findings:
        if finding.status.value == "FAIL" and (finding.in_force or fail_on is FailOn.READINESS):
            console.print(f"  [red]FAIL[/] {escape(finding.id)} {escape(finding.title)}: {escape(finding.reason)}",
                          soft_wrap=True)
    if result.verdict.value == "REVIEW" and fail_on is FailOn.FAIL:
        console.print(f"  {result.counts.get('REVIEW', 0)} requirements need a person's answer or evidence; a gate "
                      "that must not pass them uses --fail-on review.", soft_wrap=True)
    for note in outcome.notes:
        console.print(f"  note: {escape(note)}", soft_wrap=True)
    console.print(f"bundle: {escape(str(outcome.bundle_dir))}  ({outcome.timings.get('total', 0):.1f} s)", soft_wrap=True)


@app.command()
def verify(
    bundle: Annotated[Path, typer.Argument(help="A bundle folder written by `audit run`.")],
    cert: Annotated[Path | None, typer.Option(help="Certificate the bundle must be signed with (default: the one inside).")] = None,
) -> None:
    """Check every file's hash, the manifest signature and the PDF signature; name any file that changed."""

    def body() -> int:
        from audit.verify import verify_bundle

        # not a bundle (exit 2) when it has neither manifest.json nor manifest.sig; anything else is checked (exit 1)
        report = verify_bundle(bundle_dir=bundle, cert_path=cert)
        print_verify_report(report, _console())
        return EXIT_OK if report.ok else EXIT_FAIL

    raise typer.Exit(_guarded(body))


def print_verify_report(report: VerifyReport, console: Console) -> None:
    """What `audit verify` prints: each check passed, each problem (file names and fingerprints verbatim), the verdict."""
    from rich.text import Text

    for line in report.checks:
        console.print(Text.assemble(("ok", "green"), "   ", line), soft_wrap=True)
    for problem in report.problems:
        console.print(Text.assemble(("FAIL", "red"), " ", problem), soft_wrap=True)
    console.print(Text(f"signer: {report.signer}"), soft_wrap=True)
    console.print(Text("bundle intact", "bold green") if report.ok else Text("bundle NOT intact", "bold red"))


@app.command()
def keygen(
    key: Annotated[Path, typer.Option(help="Where to write the private key (PEM).")] = Path("keys/audit-key.pem"),
    cert: Annotated[Path, typer.Option(help="Where to write the self-signed certificate (PEM).")] = Path("keys/audit-cert.pem"),
    name: Annotated[str, typer.Option(help="Common name in the certificate.")] = "audit test signer",
    organisation: Annotated[str | None, typer.Option(help="Organisation in the certificate.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace existing files.")] = False,
) -> None:
    """Make a self-signed TEST key and certificate (use your organisation's certificate in production)."""

    def body() -> int:
        from audit.signing import generate_keypair

        key.parent.mkdir(parents=True, exist_ok=True)
        cert.parent.mkdir(parents=True, exist_ok=True)
        generate_keypair(key_path=key, cert_path=cert, common_name=name, organisation=organisation, overwrite=overwrite)
        typer.echo(f"wrote {key} and {cert} (self-signed: for testing only)")
        return EXIT_OK

    raise typer.Exit(_guarded(body))


@app.command()
def schema(
    result: Annotated[bool, typer.Option("--result", help="Print the schema of audit.json instead (the typed results).")] = False,
) -> None:
    """Print the JSON Schema of audit.yaml (for editors), or with --result that of audit.json."""

    def body() -> int:
        import json

        from audit.evidence import result_json_schema
        from audit.spec import spec_json_schema

        typer.echo(json.dumps(result_json_schema() if result else spec_json_schema(), indent=2))
        return EXIT_OK

    raise typer.Exit(_guarded(body))


@app.command()
def policies(
    pack: Annotated[list[str] | None, typer.Argument(help="Packs to list (default: all).")] = None,
) -> None:
    """List every requirement of the policy packs with its citation."""

    def body() -> int:
        from rich.table import Table
        from rich.text import Text

        from audit.policies import available_packs, load_pack

        console = _console()
        for name in pack or available_packs():
            loaded = load_pack(name)
            table = Table(title=Text(f"{loaded.title} — {loaded.regime} ({name})"), show_lines=False, title_justify="left")
            for column in ("id", "requirement", "citation", "bearer"):
                table.add_column(column, overflow="fold")
            for req in loaded.requirements:
                table.add_row(*(Text(str(cell)) for cell in (req.id, req.title, req.citation, req.bearer)))
            console.print(table)
        return EXIT_OK

    raise typer.Exit(_guarded(body))


@app.command()
def explain(
    bundle: Annotated[Path, typer.Argument(help="A bundle folder written by `audit run`.")],
    id: Annotated[str, typer.Option("--id", help="The decision's id (the data's id column).")],
    format: Annotated[str, typer.Option("--format", help="text or pdf.")] = "text",
    out: Annotated[Path | None, typer.Option(help="Where to write the PDF notice (default: beside the bundle).")] = None,
) -> None:
    """Explain one decision: its main reasons and, for adverse ones, what would change it."""

    def body() -> int:
        from audit.errors import UNSUPPORTED_FORMAT, AuditInputError
        from audit.explain import render_notice

        formats: dict[str, Literal["text", "pdf"]] = {"text": "text", "pdf": "pdf"}
        fmt = formats.get(format)
        if fmt is None:
            raise AuditInputError(UNSUPPORTED_FORMAT, path="--format", what="format", value=format, supported="text, pdf")
        shown = render_notice(bundle_dir=bundle, decision_id=id, fmt=fmt, out=out)
        typer.echo(shown if format == "text" else f"wrote {shown}")
        return EXIT_OK

    raise typer.Exit(_guarded(body))


def main() -> None:
    """Entry point of the `audit` command."""
    try:
        app()
    except SystemExit as exc:
        sys.exit(exc.code)


if __name__ == "__main__":
    main()
