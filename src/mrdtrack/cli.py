"""The ``mrdtrack`` command line (docs/cli.md): a thin shell over the core.

Each command lives in ``mrdtrack.commands.<name>`` and registers itself on the app. Exit status:
0 success, 2 the user's input or arguments are wrong (message, no traceback), 1 internal fault.
"""

from __future__ import annotations

import sys

import typer

from mrdtrack.cli_coercion import plain_coercion
from mrdtrack.commands import COMMAND_MODULES


class _Group(typer.core.TyperGroup):
    """typer's group, whose parameters and commands' parameters are coerced without pydantic where
    their values need none (``cli_coercion``; about 0.1 s of every ``mrdtrack ...`` start)."""

    def get_params(self, ctx):
        return plain_coercion(super().get_params(ctx))

    def get_command(self, ctx, cmd_name):
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            plain_coercion(command.get_params(ctx))
        return command


app = typer.Typer(
    cls=_Group,
    name="mrdtrack",
    help="Serial MRD monitoring and IMWG response-depth analysis in multiple myeloma.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in COMMAND_MODULES:
    _module.register(app)


def main() -> None:
    """Console entry point: typer's own usage errors exit 2; unexpected faults exit 1.

    When the command is done, whatever this process still holds is frozen out of the garbage
    collector's reach (``gc.freeze``): the interpreter's exit would otherwise walk every object in
    its final collections, about 0.1 s with pandas imported and 0.2 s after a report of the demo
    cohort. The objects are still freed (by reference counting) and exit handlers still run; only
    cyclic garbage is left to the end of the process, which returns all memory anyway (files are
    closed where they are written, never by a collection)."""
    try:
        app(standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # pragma: no cover - last resort
        print(f"mrdtrack: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
    finally:
        import gc

        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    main()
