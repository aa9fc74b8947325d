"""Hundreds of bad invocations of ``apunto-connect``: never a traceback, always the documented code.

Every case names the exit code docs/cli.md gives for it; the test also checks that each code
seen is one the documentation lists. Most cases run in process (``main(argv)``); closed pipes
and missing extras need a real process and run as subprocesses.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from apunto_connect.cli import _providers, main
from apunto_connect.models import Customer, Invoice, LineItem, Tax, to_dict

ROOT = Path(__file__).resolve().parents[2]
USAGE, INVALID, REFUSED, CONFIG = 2, 3, 4, 6


def documented_exit_codes() -> set[int]:
    """The codes of the table under "## Exit codes" in docs/cli.md."""
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    table = text.split("## Exit codes", 1)[1]
    return {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)}


@pytest.fixture(autouse=True)
def fresh_process_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Own sandbox, own user data folder (the default outbox lives there), logging restored."""
    monkeypatch.setattr(_providers, "_sandbox", None)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    logger = logging.getLogger("apunto_connect")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers  # -vv attaches a stderr handler for the rest of a process
    logger.setLevel(level)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Good and bad input files."""
    invoice = Invoice(
        customer=Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "86991"),
        items=[LineItem("78101802", "E48", "Flete", 1, "2500", taxes=[Tax.iva()])],
        payment_form="03",
    )
    paths = {
        "invoice": json.dumps(to_dict(invoice), ensure_ascii=False).encode(),
        "garbage": os.urandom(2048) + b"\xff\xfe\x00",
        "empty": b"",
        "not_json": b"{'customer': ",
        "list": b"[1, 2, 3]",
        "number": b"42",
        "wrong_types": json.dumps({"customer": 3, "items": "many", "payment_form": []}).encode(),
        "null": b"null",
        "yaml": b"customer: [",
        "sqlite_garbage": b"SQLite format 3\x00" + os.urandom(4096),
    }
    out: dict[str, str] = {}
    for name, content in paths.items():
        suffix = ".yaml" if name == "yaml" else ".db" if name == "sqlite_garbage" else ".json"
        path = tmp_path / f"{name}{suffix}"
        path.write_bytes(content)
        out[name] = str(path)
    (tmp_path / "a_directory").mkdir()
    out["directory"] = str(tmp_path / "a_directory")
    out["missing"] = str(tmp_path / "no" / "such" / "file.json")
    out["state"] = str(tmp_path / "state.json")
    out["bad_output"] = "/nonexistent-dir/sub/x.pdf"
    waybill = {
        "goods": [{"product_code": "24112700", "description": "Tarimas", "quantity": 1,
                   "unit_code": "H87", "weight_kg": "10"}],
        "origin": {"kind": "Origen", "rfc": "EKU9003173C9", "at": None, "zip_code": "44100",
                   "state": "JAL"},
        "destination": {"kind": "Destino", "rfc": "URE180429TM6", "at": None,
                        "zip_code": "64000", "state": "NLE", "distance": "850"},
        "truck": {"permit_type": "TPAF01", "permit_number": "X", "config": "C2",
                  "gross_weight": "10", "plate": "", "model_year": 2022, "insurer": "S",
                  "policy": "P"},
        "operator_rfc": "GOMJ800101AB1",
    }
    (tmp_path / "waybill.json").write_text(json.dumps(waybill), encoding="utf-8")
    out["waybill"] = str(tmp_path / "waybill.json")
    return out


def bad_file_cases(f: dict[str, str]) -> list[tuple[list[str], set[int]]]:
    """Each input-file command fed every bad file."""
    bad = ["garbage", "empty", "not_json", "list", "number", "wrong_types", "null", "directory",
           "missing"]
    sandbox_fact = ["--provider", "facturama", "--sandbox"]
    cases: list[tuple[list[str], set[int]]] = []
    for name in bad:
        cases.append((["invoice", "stamp", f[name], *sandbox_fact], {INVALID}))
        cases.append((["track", "create", "--provider", "controlt", "--sandbox",
                       "--data", "@" + f[name]], {INVALID}))
        cases.append((["track", "assign", "T-1", "--provider", "controlt", "--sandbox",
                       "--data", "@" + f[name]], {INVALID}))
        cases.append((["storage", "upload", f[name], "--root", f["directory"]],
                       {INVALID} if name in ("directory", "missing") else {0}))
        cases.append((["invoice", "stamp", f["invoice"], *sandbox_fact, "--sandbox-state", f[name]],
                       {INVALID}))
        cases.append((["drive", "status", "--sandbox", "--sandbox-state", f[name]], {INVALID}))
        cases.append((["track", "waybill", "T-1", "--goods", f[name], "--sandbox"], {INVALID}))
        cases.append((["invoice", "pay", "X", "--amount", "1", "--paid-at", "2026-11-20",
                       "--form", "03", "--previous", f[name], *sandbox_fact, "--dry-run"],
                      {INVALID}))
    cases.append((["invoice", "stamp", f["yaml"], *sandbox_fact], {INVALID, CONFIG}))
    cases.append((["webhooks", "--outbox", f["garbage"], "list"], {CONFIG}))
    cases.append((["webhooks", "list", "--outbox", f["sqlite_garbage"]], {CONFIG}))
    cases.append((["webhooks", "retry", "--outbox", f["directory"]], {CONFIG}))
    cases.append((["webhooks", "list", "--outbox", f["missing"]], {0, CONFIG}))
    cases.append((["invoice", "download", "X", *sandbox_fact, "--output", f["bad_output"]],
                   {REFUSED}))
    cases.append((["storage", "upload", f["invoice"], "--root", f["directory"]], {0}))
    cases.append((["storage", "download", "invoice.json", "--root", f["directory"], "-o",
                   f["bad_output"]], {INVALID}))
    cases.append((["storage", "download", "invoice.json", "--root", f["directory"], "-o",
                   f["directory"]], {INVALID}))
    return cases


# command -> (argv that reaches the vendor or the disk, its code, the code of the bare command)
def command_cases(f: dict[str, str]) -> dict[str, tuple[list[str], set[int], set[int]]]:
    fact = ["--provider", "facturama", "--sandbox"]
    ctl = ["--provider", "controlt", "--sandbox"]
    return {
        "rfc check": (["rfc", "check", "NOTANRFC"], {INVALID}, {USAGE}),
        "invoice stamp": (["invoice", "stamp", f["invoice"], *fact], {0}, {USAGE}),
        "invoice get": (["invoice", "get", "NOPE", *fact], {REFUSED}, {USAGE}),
        "invoice download": (["invoice", "download", "NOPE", *fact, "--output", "-"], {REFUSED},
                             {USAGE}),
        "invoice cancel": (["invoice", "cancel", "NOPE", "--motive", "02", *fact], {REFUSED},
                           {USAGE}),
        "track get": (["track", "get", "NOPE", *ctl], {REFUSED}, {USAGE}),
        "track list": (["track", "list", *ctl], {0}, {USAGE}),
        "track activate": (["track", "activate", "NOPE", "--by", "a@b.mx", *ctl], {REFUSED},
                           {USAGE}),
        "track close": (["track", "close", "NOPE", "--by", "a@b.mx", *ctl], {REFUSED}, {USAGE}),
        "storage list": (["storage", "list", "--root", f["directory"]], {0}, {0}),
        "storage download": (["storage", "download", "nope.xml", "--root", f["directory"]],
                             {REFUSED}, {USAGE}),
        "drive status": (["drive", "status", "--sandbox"], {0}, {CONFIG}),
        "credentials show": (["credentials", "show", "facturama", "password"], {0}, {USAGE}),
        "webhooks list": (["webhooks", "list"], {0}, {0}),
        "webhooks retry": (["webhooks", "retry"], {0}, {0}),
        "invoice pay": (["invoice", "pay", "NOPE", "--amount", "10", "--paid-at", "2026-11-20",
                         "--form", "03", *fact, "--dry-run"], {REFUSED}, {USAGE}),
        "invoice credit-note": (["invoice", "credit-note", "NOPE", "--amount", "10", *fact,
                                 "--dry-run"], {REFUSED}, {USAGE}),
        "track waybill": (["track", "waybill", "NOPE", "--goods", f["waybill"], "--sandbox"],
                          {REFUSED}, {USAGE}),
    }


def mutations(
    argv: list[str], ok: set[int], short: set[int], f: dict[str, str]
) -> Iterator[tuple[list[str], set[int]]]:
    """Bad arguments around one working invocation."""
    yield argv, ok
    yield [*argv, "-v"], ok                                   # global options anywhere
    yield ["-v", *argv], ok
    yield [*argv[:1], "-v", *argv[1:]], ok
    yield [*argv, "--no-such-option"], {USAGE}
    yield [*argv, "--no-such-option=1", "-v"], {USAGE}
    yield [*argv[:2]], short
    yield [argv[0], "not-an-action"], {USAGE}
    if argv[0] not in ("rfc", "credentials"):  # those take any number of values
        yield [*argv, "extra", "positional", "args"], {USAGE}
    yield [*argv, "--provider"], {USAGE}
    yield ["--base-url", "notaurl", *argv], {CONFIG}
    if "--sandbox" in argv and argv[0] in ("invoice", "track"):
        yield [*argv, "--base-url", "notaurl"], {CONFIG}
        yield ["--base-url", "ftp://example.com", *argv], {CONFIG}
        yield [*argv, "--base-url", "http://"], {CONFIG}
        without = [a for a in argv if a != "--sandbox"]
        yield [*without, "--sandbox-state", f["state"]], {CONFIG}
        yield [*argv, "--sandbox-state", f["directory"]], {INVALID}
    if "--provider" in argv:
        at = argv.index("--provider") + 1
        yield [*argv[:at], "no_such_vendor", *argv[at + 1:]], {USAGE, CONFIG}
        yield [*argv[:at], "", *argv[at + 1:]], {USAGE, CONFIG}


def all_cases(f: dict[str, str]) -> list[tuple[list[str], set[int]]]:
    cases = bad_file_cases(f)
    for argv, ok, short in command_cases(f).values():
        cases.extend(mutations(argv, ok, short, f))
    cases += [
        ([], {USAGE}), (["--no-such-global"], {USAGE}), (["nonsense"], {USAGE}),
        (["--version"], {0}), (["-vvvv"], {USAGE}), (["--base-url"], {USAGE}),
        (["rfc", "check"], {USAGE}), (["rfc", "check", "\x00\x01"], {INVALID}),
        (["rfc", "check", "x" * 10_000], {INVALID}), (["rfc", "check", "EKU9003173C9"], {0}),
        (["track", "list", "--provider", "controlt", "--sandbox", "--limit", "many"], {USAGE}),
        (["track", "list", "--provider", "controlt", "--sandbox", "--filter", "nokey"], {INVALID}),
        (["track", "list", "--provider", "shipsgo", "--sandbox", "--filter", "bogus=1"],
         {INVALID}),
        (["track", "create", "--provider", "controlt", "--sandbox", "--data", "{"], {INVALID}),
        (["track", "create", "--provider", "controlt", "--sandbox", "--data", "[]"], {INVALID}),
        (["invoice", "cancel", "X", "--motive", "99", "--provider", "facturama"], {USAGE}),
        (["invoice", "download", "X", "--format", "docx", "--provider", "facturama",
          "--output", "-"], {USAGE}),
        (["invoice", "get", "X", "--provider", "facturama"], {CONFIG}),  # no credentials
        (["track", "get", "X", "--provider", "shipsgo"], {CONFIG}),
        (["storage", "upload", f["invoice"], "--provider", "local", "--sandbox"], {INVALID}),
        (["storage", "upload", f["invoice"], "--meta", "novalue", "--root", f["directory"]],
         {INVALID}),
        (["storage", "list", "--provider", "google_drive"], {REFUSED, CONFIG}),  # not signed in
        (["drive", "status"], {CONFIG}),
        (["drive", "login"], {CONFIG}),
        (["drive", "status", "--sandbox-state", f["state"]], {CONFIG}),
        (["credentials", "show"], {USAGE}),
        (["credentials", "set", "facturama", "password="], {INVALID}),
        (["sandbox", "serve", "--port", "notaport"], {USAGE}),
        (["sandbox", "serve", "--for", "soon"], {USAGE}),
        (["invoice", "pay", "X", "--amount", "1", "--paid-at", "yesterday", "--form", "03",
          "--provider", "facturama", "--sandbox"], {INVALID}),
        (["invoice", "pay", "--amount", "1", "--paid-at", "2026-11-20", "--form", "03",
          "--provider", "facturama", "--sandbox"], {USAGE}),
        (["invoice", "pay", "X", "--paid-at", "2026-11-20", "--form", "03",
          "--provider", "facturama", "--sandbox"], {USAGE}),
        (["invoice", "pay", "X", "--amount", "lots", "--paid-at", "2026-11-20", "--form", "03",
          "--provider", "facturama", "--sandbox", "--dry-run"], {INVALID, REFUSED}),
        (["invoice", "pay", "X", "--amount", "1", "--paid-at", "2026-11-20", "--form", "03",
          "--provider", "facturama"], {CONFIG}),  # no credentials
        (["invoice", "credit-note", "X", "--amount", "1", "--relation", "02",
          "--provider", "facturama", "--sandbox"], {USAGE}),
        (["invoice", "credit-note", "X", "--amount", "1", "--iva-rate", "abc",
          "--provider", "facturama", "--sandbox"], {INVALID}),
        (["invoice", "credit-note", "X", "--provider", "facturama", "--sandbox"], {USAGE}),
        (["track", "waybill", "T-1", "--sandbox"], {USAGE}),
        (["track", "waybill", "T-1", "--goods", f["waybill"], "--sandbox", "--stamp"], {INVALID}),
        (["track", "waybill", "T-1", "--goods", f["waybill"], "--sandbox", "--xml"], {INVALID}),
        (["track", "waybill", "T-1", "--goods", f["waybill"], "--tracking-provider", "nope",
          "--sandbox"], {USAGE, CONFIG}),
        (["track", "waybill", "T-1", "--goods", f["waybill"]], {CONFIG}),
    ]
    return cases


def test_hundreds_of_bad_invocations_never_show_a_traceback(
    files: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    cases = all_cases(files)
    assert len(cases) >= 200
    documented = documented_exit_codes()
    wrong: list[str] = []
    for argv, expected in cases:
        try:
            code = main(argv)
        except BaseException as exc:  # nothing may escape main()
            wrong.append(f"{argv}: raised {type(exc).__name__}: {exc}")
            continue
        out, err = capsys.readouterr()
        if "Traceback" in out + err:
            wrong.append(f"{argv}: printed a traceback:\n{err[-2000:]}")
        if code not in documented:
            wrong.append(f"{argv}: exit {code} is not documented in docs/cli.md")
        if code not in expected:
            wrong.append(f"{argv}: exit {code}, documented {sorted(expected)}; stderr: {err[-500:]}")
    print(f"CLI fuzz: {len(cases)} invocations")
    assert not wrong, "\n".join(wrong)


def test_every_command_accepts_verbose_after_the_command() -> None:
    from apunto_connect.cli import build_parser

    parser = build_parser()
    for argv in (["rfc", "check", "EKU9003173C9", "-v"], ["webhooks", "list", "-vv"],
                 ["invoice", "get", "X", "--provider", "p", "-v"]):
        args = parser.parse_args(argv)
        assert args.verbose_after >= 1


# -- real processes: closed pipes and missing extras -------------------------------------------

BLOCKER = """
import sys
blocked = set(sys.argv[1].split(",")) - {""}
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Blocker())
from apunto_connect.cli import main
sys.exit(main(sys.argv[2:]))
"""


def cli_process(argv: list[str], tmp_path: Path, blocked: str = "", **popen: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "APUNTO_NO_KEYRING": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("APUNTO_") or k == "APUNTO_NO_KEYRING"}
    return subprocess.Popen(
        [sys.executable, "-c", BLOCKER, blocked, *argv], cwd=tmp_path, env=env,
        stderr=subprocess.PIPE, **popen,  # type: ignore[call-overload]
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ["rfc", "check", "-"],
        ["rfc", "check", "--json", "-"],
    ],
    ids=["rfc-check", "rfc-check-json"],
)
def test_a_closed_pipe_stops_quietly(argv: list[str], tmp_path: Path) -> None:
    rfcs = "\n".join(itertools.islice(itertools.cycle(["EKU9003173C9", "XAXX010101000"]), 20_000))
    process = cli_process(argv, tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdout is not None and process.stdin is not None
    process.stdin.write(rfcs.encode())
    process.stdin.close()
    process.stdout.readline()  # like `| head -1`
    process.stdout.close()
    assert process.stderr is not None
    err = process.stderr.read()
    process.wait(timeout=60)
    assert b"Traceback" not in err, err.decode()
    assert process.returncode in (0, 141)


@pytest.mark.slow
def test_a_pipe_closed_before_the_answer_stops_quietly(tmp_path: Path) -> None:
    invoice = tmp_path / "invoice.json"
    invoice.write_text(json.dumps(to_dict(Invoice(
        customer=Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "86991"),
        items=[LineItem("78101802", "E48", "Flete", 1, "2500", taxes=[Tax.iva()])],
        payment_form="03",
    ))), encoding="utf-8")
    argv = ["invoice", "stamp", str(invoice), "--provider", "alegra", "--sandbox", "--raw"]
    process = cli_process(argv, tmp_path, stdout=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before anything is written
    assert process.stderr is not None
    err = process.stderr.read()
    process.wait(timeout=60)
    assert b"Traceback" not in err, err.decode()
    assert process.returncode == 141


@pytest.mark.slow
@pytest.mark.parametrize(
    ("argv", "blocked", "codes", "extra"),
    [
        (["drive", "status", "--sandbox"], "googleapiclient,google_auth_httplib2", {CONFIG}, "drive"),
        (["storage", "list", "--provider", "google_drive", "--sandbox"], "google_auth_httplib2",
         {CONFIG}, "drive"),
        (["drive", "login", "--sandbox"], "google_auth_oauthlib", {CONFIG}, "drive"),
        (["demo", "--json", "--output", "archive"], "googleapiclient,google_auth_httplib2", {0}, ""),
        (["invoice", "stamp", "inv.yaml", "--provider", "facturama", "--sandbox"], "yaml",
         {CONFIG}, "pyyaml"),
    ],
    ids=["drive-status", "storage-drive", "drive-login", "demo-without-drive", "yaml"],
)
def test_a_missing_extra_is_a_configuration_error_naming_it(
    argv: list[str], blocked: str, codes: set[int], extra: str, tmp_path: Path
) -> None:
    (tmp_path / "inv.yaml").write_text("customer: {}\n", encoding="utf-8")
    process = cli_process(argv, tmp_path, blocked, stdout=subprocess.PIPE)
    _, err = process.communicate(timeout=180)
    assert b"Traceback" not in err, err.decode()
    assert process.returncode in codes, err.decode()
    if extra:
        assert extra in err.decode()


@pytest.mark.slow
def test_the_sandbox_without_its_pdf_extra_names_it_or_works(tmp_path: Path) -> None:
    # Stamping in the sandbox may draw the PDF at once or only when it is downloaded; either
    # way a missing fpdf2 is exit 6 naming the extra, never a traceback.
    invoice = Invoice(
        customer=Customer("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA", "601", "86991"),
        items=[LineItem("78101802", "E48", "Flete", 1, "2500", taxes=[Tax.iva()])],
        payment_form="03",
    )
    (tmp_path / "inv.json").write_text(json.dumps(to_dict(invoice)), encoding="utf-8")
    state = ["--sandbox", "--sandbox-state", "s.json"]
    stamp = cli_process(["invoice", "stamp", "inv.json", "--provider", "facturama", *state],
                        tmp_path, "fpdf", stdout=subprocess.PIPE)
    out, err = stamp.communicate(timeout=120)
    assert b"Traceback" not in err, err.decode()
    assert stamp.returncode in (0, CONFIG), err.decode()
    if stamp.returncode == CONFIG:
        assert "apunto-connect[sandbox]" in err.decode()
        return
    ref = json.loads(out)["id"]
    download = cli_process(["invoice", "download", ref, "--provider", "facturama", *state,
                            "--format", "pdf", "--output", "f.pdf"], tmp_path, "fpdf",
                           stdout=subprocess.PIPE)
    _, err = download.communicate(timeout=120)
    assert b"Traceback" not in err, err.decode()
    assert download.returncode == CONFIG and "apunto-connect[sandbox]" in err.decode()
