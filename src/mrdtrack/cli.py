"""The ``mrdtrack`` command line (docs/cli.md): a thin shell over the core.

Each command lives in ``mrdtrack.commands.<name>`` and registers itself on the app. Exit status:
0 success, 2 the user's input or arguments are wrong (message, no traceback), 1 internal fault.
"""

from __future__ import annotations

import sys

import typer

from mrdtrack.commands import COMMAND_MODULES

app = typer.Typer(
    name="mrdtrack",
    help="Serial MRD monitoring and IMWG response-depth analysis in multiple myeloma.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in COMMAND_MODULES:
    _module.register(app)


def main() -> None:
    """Console entry point: typer's own usage errors exit 2; unexpected faults exit 1."""
    try:
        app(standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # pragma: no cover - last resort
        print(f"mrdtrack: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
