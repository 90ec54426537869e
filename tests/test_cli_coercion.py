"""``cli_coercion.PlainValue`` gives every parameter of every command the value typer's own
coercion (pydantic) gives, or the same refusal with the same words; and the common commands start
without importing pydantic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

coercion = pytest.importorskip("typer._coercion")  # the layer cli_coercion speaks to (typer 0.2x)
from typer._click import Context  # noqa: E402
from typer._click.exceptions import BadParameter  # noqa: E402

from mrdtrack.cli import app  # noqa: E402
from mrdtrack.cli_coercion import PlainValue, plain_coercion  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"


def _parameters():
    """(command path, parameter) for every parameter typer coerces, sub-commands included."""
    import typer

    group = typer.main.get_command(app)
    found = []

    def walk(cmd, path):
        ctx = Context(cmd)
        for p in cmd.get_params(ctx):
            if getattr(p, "type_descriptor", None) is not None:
                found.append((path, p))
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            walk(sub, f"{path} {name}")

    walk(group, "mrdtrack")
    return found


PARAMETERS = _parameters()


def _outcome(runtime, value, param):
    try:
        result = runtime.coerce(value, param=param, ctx=None)
    except BadParameter as exc:
        return ("refused", exc.format_message())
    return ("value", type(result), result)


def _both(param, value):
    d = param.type_descriptor
    plain = PlainValue(annotation=d.annotation, parameter_info=d.parameter_info, descriptor=d)
    return _outcome(plain, value, param), _outcome(coercion.build_runtime_param(d), value, param)


def test_every_command_is_covered():
    kinds = {p.type_descriptor.annotation for _, p in PARAMETERS}
    assert {str, int, bool, Path} <= kinds
    assert len({path for path, _ in PARAMETERS}) >= 8


SAMPLES = ["", "x", " spaced ", "2024-01-01", "/tmp/out", "rel/dir", "3", "0", "-1", "1e3", "abc", "\x00", "a\x00b", "/",
           0, 1, -1, 2, 10_000, True, False, None, Path("p"), ["a=b"], ("k=v", "a=b")]


@pytest.mark.parametrize("path,param", PARAMETERS, ids=[f"{c}:{p.name}" for c, p in PARAMETERS])
def test_same_value_or_same_refusal_as_typer(path, param):
    for value in [*SAMPLES, param.default]:
        plain, typer_own = _both(param, value)
        assert plain == typer_own, (path, param.name, value)


@settings(max_examples=300, deadline=None)
@given(index=st.integers(0, len(PARAMETERS) - 1),
       value=st.one_of(st.text(max_size=12), st.integers(-5, 10**7), st.booleans(), st.none()))
def test_same_as_typer_on_any_value(index, value):
    _, param = PARAMETERS[index]
    plain, typer_own = _both(param, value)
    assert plain == typer_own


def test_plain_coercion_leaves_coerced_parameters_alone():
    _, param = next((c, p) for c, p in PARAMETERS if p.type_descriptor.annotation is str)
    marker = object()
    param._runtime_param = marker
    try:
        plain_coercion([param])
        assert param._runtime_param is marker
    finally:
        param._runtime_param = None


def _run(code: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(SRC)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr


@pytest.mark.parametrize("argv", [["report", "COHORT", "--out", "OUT", "--profile", "alonso2020"],
                                  ["analyze", "COHORT", "--out", "OUT", "--exclude-invalid"],
                                  ["validate", "COHORT"], ["validate", "--help"]])
def test_common_commands_start_without_pydantic(argv):
    """The command's function is replaced by one that stops: only the parsing is run."""
    code = ("import sys\nimport mrdtrack.cli as cli\nimport typer\n"
            "from mrdtrack.cli_coercion import RuntimeParam\n"
            "if RuntimeParam is None:\n    print('no typer coercion layer'); raise SystemExit\n"
            "group = typer.main.get_command(cli.app)\n"
            "for cmd in group.commands.values():\n    cmd.callback = lambda **kw: print('parsed')\n"
            f"try:\n    group({argv!r}, standalone_mode=True)\nexcept SystemExit:\n    pass\n"
            "print('pydantic' in sys.modules)")
    assert _run(code) in ("False", "no typer coercion layer")


def test_a_number_typed_is_still_checked_by_typer(tmp_path):
    """``--jobs 0``, ``--jobs two``: typer's own words and exit 2."""
    for value, words in (("0", "greater than or equal to 1"), ("two", "valid integer")):
        proc = subprocess.run([sys.executable, "-m", "mrdtrack.cli", "report", str(tmp_path), "--out",
                               str(tmp_path / "o"), "--jobs", value], capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(SRC), "COLUMNS": "200"})
        assert proc.returncode == 2
        assert words in proc.stderr
