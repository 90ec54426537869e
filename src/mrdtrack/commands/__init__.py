"""CLI commands, one module each (each exposes ``register(app)``)."""

from importlib import import_module

_NAMES = ("validate", "analyze", "report", "patient", "alerts", "simulate", "demo", "stats", "import_")


def _load():
    mods = []
    for name in _NAMES:
        try:
            mods.append(import_module(f"mrdtrack.commands.{name}"))
        except ModuleNotFoundError as exc:  # a command whose module is not written yet
            if exc.name != f"mrdtrack.commands.{name}":
                raise
    return mods


COMMAND_MODULES = _load()
