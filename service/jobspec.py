"""Validating a submitted job before it is queued: the same loader and messages as `curate run`, plus the
service's confinement rule (every path a job reads lies under a configured data root).

A data root is a local folder or an object-store prefix (`s3://bucket/crawl/`, `gs://...`, `https://...`).
Local paths are compared after resolving symbolic links; URLs by prefix, and a URL with a `.` or `..`
segment is refused outright (stores and HTTP servers may normalize it to somewhere else). Every entry of
a path list is checked where it will be read (under its `base`), not only the list file.
"""

from __future__ import annotations

import glob
import os
from dataclasses import replace
from typing import Any

import yaml

from pipelines import storage
from pipelines.config import JobConfig, check_inputs
from pipelines.configlib import ConfigError, load_dataclass
from pipelines.io.inputs import listed_locations

MAX_SPEC_BYTES = 256 * 1024

#: Config keys naming files a job reads besides its inputs (entries starting `builtin:` are shipped data).
PATH_KEYS = ("filter.lid.model", "filter.badwords.lists_dir", "filter.quality.model", "dedup.against",
             "filter.url.blocklists", "filter.url.banned_words", "filter.url.banned_subwords")


class InvalidYaml(ConfigError):
    """The job text does not parse as YAML (HTTP 400)."""


class PathNotAllowed(ValueError):
    """A job names a path outside the service's data roots (HTTP 403)."""


def parse_yaml(text: str) -> dict[str, Any]:
    """Safe YAML (no tags, no objects), a mapping at the top level; errors read like `curate run`'s."""
    if len(text.encode()) > MAX_SPEC_BYTES:
        raise ConfigError(f"the job file is larger than {MAX_SPEC_BYTES} bytes")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise InvalidYaml(f"the job file is not valid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidYaml("the job file: the top level must be a mapping")
    return data


def within(path: str, roots: list[str]) -> bool:
    if storage.is_remote(path):
        return _url_within(path, [r for r in roots if storage.is_remote(r)])
    real = os.path.realpath(path)
    local = [os.path.realpath(r) for r in roots if not storage.is_remote(r)]
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in local)


def _url_within(url: str, roots: list[str]) -> bool:
    rest = url.split("://", 1)[1].split("?", 1)[0].split("#", 1)[0]
    if any(segment in (".", "..") for segment in rest.split("/")):
        return False
    return any(url == r.rstrip("/") or url.startswith(r.rstrip("/") + "/") for r in roots)


def _glob_prefix(pattern: str) -> str:
    """The folder part of a pattern before its first wildcard: what `..` tricks would have to escape."""
    parts = []
    for part in pattern.split(os.sep):
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return os.sep.join(parts) or os.sep


def _absolute(path: str, base_dir: str) -> str:
    if storage.is_remote(path):
        return path
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(base_dir, path))


def validate_job(text: str, base_dir: str, data_roots: list[str]) -> JobConfig:
    """The job's config, validated: ConfigError (422) for what `curate run` would refuse, PathNotAllowed
    (403) for inputs outside the data roots. Relative paths resolve against `base_dir`."""
    data = parse_yaml(text)
    config = load_dataclass(JobConfig, data)
    if not os.path.isabs(base_dir) or not os.path.isdir(base_dir):
        raise ConfigError(f"base_dir: {base_dir!r} is not an existing absolute folder")
    inputs = []
    for i, spec in enumerate(config.inputs):
        if spec.path_list:
            spec = replace(spec, path_list=_absolute(spec.path_list, base_dir),
                           base=_absolute(spec.base, base_dir) if spec.base else "")
            if not within(spec.path_list, data_roots):
                raise PathNotAllowed(f"inputs[{i}].path_list: {storage.redact(spec.path_list)!r} is outside the data roots")
        else:
            spec = replace(spec, path=_absolute(spec.path, base_dir))
            if not within(_glob_prefix(spec.path), data_roots):
                raise PathNotAllowed(f"inputs[{i}].path: {storage.redact(spec.path)!r} is outside the data roots")
        inputs.append(spec)
    checked = replace(config, inputs=inputs)
    check_inputs(checked)  # the same "nothing matches" message as `curate run`
    for i, spec in enumerate(checked.inputs):
        if spec.path_list:
            for listed, location in listed_locations(spec):
                if not within(location, data_roots):
                    raise PathNotAllowed(f"inputs[{i}].path_list: entry {listed!r} is read from "
                                         f"{storage.redact(location)!r}, outside the data roots")
        elif not storage.is_remote(spec.path):
            for match in glob.glob(spec.path, recursive=True):
                if not within(match, data_roots):  # a symlink that leads out
                    raise PathNotAllowed(f"inputs[{i}].path: {match!r} resolves outside the data roots")
    for key in PATH_KEYS:
        value = _lookup(config, key)
        for item in value if isinstance(value, list) else [value]:
            if item is None or str(item).startswith("builtin:"):
                continue
            if not within(_absolute(str(item), base_dir), data_roots):
                raise PathNotAllowed(f"{key}: {item!r} is outside the data roots")
    return config


def _lookup(config: Any, dotted: str) -> Any:
    node = config
    for part in dotted.split("."):
        node = getattr(node, part, None)
    return node
