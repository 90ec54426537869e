"""The ``mrdtrack`` command line (docs/cli.md): a thin shell over the core.

Each command lives in ``mrdtrack.commands.<name>`` and registers itself on the app. Exit status:
0 success, 2 the user's input or arguments are wrong (message, no traceback), 1 internal fault.
"""

from __future__ import annotations

import sys

import typer

from mrdtrack.commands import COMMAND_MODULES


class _Group(typer.core.TyperGroup):
    """typer's group, minus one start-up cost: typer (0.2x) coerces the group's ``--help`` flag even
    when it is absent (value None, which coercion returns unchanged), and building that coercion
    imports pydantic, about 0.1 s of every ``mrdtrack <command> ...`` start (``validate --help``: 0.37
    -> 0.23 s). The flag is given typer's own pass-through coercion instead, the same result for
    None and the flag's bools. Where typer has no such hook (other versions), nothing changes."""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None and getattr(option, "_runtime_param", False) is None:
            from typer._coercion import PassThroughRuntimeParam

            option._runtime_param = PassThroughRuntimeParam(annotation=bool,
                                                            parameter_info=option.type_descriptor.parameter_info)
        return option


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
