"""typer's coercion of command-line values, without pydantic where a value needs none.

typer (0.2x) coerces every parameter of the command run, given or not, through a pydantic adapter,
and importing pydantic costs about 0.1 s of every ``mrdtrack`` start. ``plain_coercion`` gives each
parameter a ``PlainValue`` instead, which returns what pydantic returns (lax mode) for the values
that need no conversion rule: a text for a text parameter, a path made of the text for a path
parameter (then typer's own path checks), a flag's bool, a whole number already in range (a
default). Anything else (a number typed on the command line, a list, a value to reject) goes
through typer's own coercion, built when first needed, so its checks and its messages are typer's.

With a typer that has no such coercion layer (before 0.2x), nothing is changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

try:
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_path
except ImportError:  # another typer: its own coercion, untouched
    RuntimeParam = None


def plain_coercion(params: list) -> list:
    """``params`` (click parameters of a typer command), each not coerced yet given a ``PlainValue``."""
    if RuntimeParam is None:
        return params
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is not None and getattr(param, "_runtime_param", False) is None:
            param._runtime_param = PlainValue(annotation=descriptor.annotation,
                                              parameter_info=descriptor.parameter_info, descriptor=descriptor)
    return params


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class PlainValue(RuntimeParam):
        """One parameter's coercion: the value itself where pydantic would give it back, else typer's."""

        descriptor: object = None

        def _coerce_value(self, value, param, ctx):
            kind, info = self.annotation, self.parameter_info
            if kind is str and type(value) is str:
                return value
            if kind is Path and isinstance(value, (str, Path)) and not self.descriptor.is_file:
                try:  # pydantic's part is Path(text); typer's own checks (exists, file or folder ...) follow
                    return coerce_cli_path(value if isinstance(value, Path) else Path(value), info,
                                           path_type=info.path_type or Path, param=param, ctx=ctx)
                except Exception:  # noqa: BLE001 - refused: by typer's whole coercion, in its words
                    pass
            if kind is bool and type(value) is bool:
                return value
            if (kind is int and type(value) is int and (info.min is None or value >= info.min)
                    and (info.max is None or value <= info.max)):
                return value
            return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)
