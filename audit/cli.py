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
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address for per-decision work.")] = None,
    output: Annotated[Path | None, typer.Option(help="Folder for bundles (default: the spec's output, reports/).")] = None,
    junit: Annotated[Path | None, typer.Option(help="Also write one JUnit test case per requirement to this file.")] = None,
    fail_on: Annotated[FailOn, typer.Option(
        "--fail-on", case_sensitive=False,
        help="What exits 1. fail: a requirement in force FAILs (default). review: also any REVIEW in force "
             "(a gate that wants everything answered). readiness: also a FAIL of a requirement not yet in force.",
    )] = FailOn.FAIL,
) -> None:
    """Run an audit and write a signed bundle. Exit 0: passes the gate; 1: it does not (see --fail-on); 2: could not run.

    An encrypted signing key is opened with the password in the environment variable AUDIT_KEY_PASSWORD (never in the spec). The key and certificate are checked before any work: they must belong together, and the certificate must be valid on the audit date and now.
    """

    def body() -> int:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from audit.pipeline import run_audit

        console = Console(stderr=True, highlight=False, emoji=False)
        with Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), TimeElapsedColumn(),
                      console=console, transient=True, disable=not console.is_terminal) as bar:
            task = bar.add_task("starting", total=None)

            def progress(name: str, done: int, total: int) -> None:
                bar.update(task, description=f"{name} ({done}/{total})" if total > 1 else name)

            outcome = run_audit(spec, trust_model=trust_model, scheduler=scheduler, output=output, progress=progress)
        if junit is not None:
            from audit.junit import write_junit

            write_junit(outcome.result.findings, junit, suite_name=outcome.result.system["name"], fail_on=fail_on.value)
        _print_summary(outcome, fail_on)
        return EXIT_FAIL if gate_fails(outcome.result, fail_on) else EXIT_OK

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
