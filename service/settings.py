"""The service's settings, shared by the HTTP app, the executor and the command line."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from pipelines import storage

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MAX_BODY_BYTES = 1024 * 1024  # a job file is a few KB; an upload form adds little


@dataclass
class Settings:
    home: Path = Path(".curate")
    db: str | None = None  # postgresql://... or a SQLite file; default HOME/curate.db
    data_roots: list[str] = field(default_factory=lambda: [os.getcwd()])
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_concurrent_jobs: int = 1
    require_token: bool = False  # always on for a non-loopback bind
    max_body_bytes: int = MAX_BODY_BYTES
    run_executor: bool = True
    grace_s: float = 10.0
    lease_s: float = 30.0
    train_gpus: int | None = None  # None: every local GPU

    def __post_init__(self) -> None:
        self.home = Path(self.home).resolve()
        # Local folders resolved; object-store prefixes (s3://bucket/crawl/) kept as given.
        self.data_roots = [r if storage.is_remote(r) else os.path.realpath(r) for r in self.data_roots]
        if not is_loopback(self.host):
            self.require_token = True

    @property
    def db_url(self) -> str:
        return self.db or str(self.home / "curate.db")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
