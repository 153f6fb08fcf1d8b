"""Files shipped inside the package (filters/data/) and the `builtin:NAME` references config uses."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

BUILTIN = "builtin:"


def data_dir() -> Path:
    return Path(str(resources.files("filters").joinpath("data")))


def resolve(path: str, builtin_folder: str = "") -> Path:
    """`builtin:NAME` -> filters/data/<builtin_folder>/NAME; anything else is a path, used as given."""
    if path.startswith(BUILTIN):
        return data_dir() / builtin_folder / path[len(BUILTIN) :]
    return Path(path).expanduser()


def read_list(path: Path) -> list[str]:
    """Non-empty lines of a word / domain list, without `#` comment lines, stripped."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out
