"""Fixtures of the pipelines tests: a real S3 API server on loopback behind a fault-injecting proxy."""

from __future__ import annotations

import random

import pytest

from pipelines import storage
from pipelines.storage import StorageConfig
from tests.pipelines.s3server import FaultProxy, Faults, MotoServer, s3_client

BUCKET = "corpus"


@pytest.fixture(scope="session")
def moto():
    pytest.importorskip("moto")
    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture()
def s3(moto, monkeypatch):
    """A fresh bucket behind a fresh proxy; AWS_ENDPOINT_URL points at the proxy."""
    proxy = FaultProxy(moto.port, Faults())
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = s3_client(moto.url)
    bucket = f"{BUCKET}-{random.randrange(1 << 30):x}"
    client.create_bucket(Bucket=bucket)
    storage.configure(StorageConfig(backoff_initial_s=0.01, backoff_max_s=0.05))
    yield client, bucket, proxy
    storage.configure(StorageConfig())
    proxy.stop()


