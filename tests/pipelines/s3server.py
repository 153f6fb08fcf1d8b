"""A real S3 API server on loopback (moto's standalone server, in a subprocess) and a small
fault-injecting HTTP proxy in front of it, for the object-storage tests and benchmarks/objectstore.py.

The proxy forwards every request unchanged (SigV4 signs the Host header, which moto does not check)
and, by rules the test sets, answers 503 SlowDown to the first tries of some requests, cuts a response
off half-way through its body, answers 404 NoSuchKey for an object forever, or 403 AccessDenied to
every request (or every write) signed with a given access key.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer:
    """`moto_server -H 127.0.0.1 -p PORT` in a subprocess; `stop` ends it."""

    def __init__(self) -> None:
        self.port = free_port()
        exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
        cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "moto.server"]
        self.proc = subprocess.Popen(
            [*cmd, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Faults:
    """What the proxy does to matching requests; `path` matches a substring of the request path."""

    slowdown: dict[str, int] = field(default_factory=dict)  # path -> how many 503s before passing
    cut: dict[str, int] = field(default_factory=dict)  # path -> how many GET bodies to cut half-way
    # path -> how many UploadPart requests (PUT ?partNumber=) to fail: "503" answers SlowDown, "drop"
    # closes the connection without an answer
    part_faults: dict[str, list[str]] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)  # paths answered 404 NoSuchKey on GET/HEAD
    denied_keys: set[str] = field(default_factory=set)  # access key ids answered 403 AccessDenied
    readonly_keys: set[str] = field(default_factory=set)  # access key ids answered 403 on every write
    seen: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, status) of each request
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, table: dict[str, int], path: str) -> bool:
        with self.lock:
            for key, left in table.items():
                if key in path and left > 0:
                    table[key] = left - 1
                    return True
        return False

    def take_part_fault(self, path: str) -> str | None:
        with self.lock:
            for key, left in self.part_faults.items():
                if key in path and left:
                    return left.pop(0)
        return None


_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


def _error_xml(code: str, message: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>").encode()


class FaultProxy:
    def __init__(self, upstream_port: int, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _handle(self) -> None:
                faults = proxy.faults
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                auth = self.headers.get("Authorization", "")
                key = auth.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in auth else ""
                if key and key in faults.denied_keys:
                    return self._error(403, "AccessDenied", "Access Denied")
                if key and key in faults.readonly_keys and self.command in ("PUT", "POST", "DELETE"):
                    return self._error(403, "AccessDenied", "Access Denied")
                if self.command in ("GET", "HEAD") and any(m in path for m in faults.missing):
                    return self._error(404, "NoSuchKey", "The specified key does not exist.")
                if faults.take(faults.slowdown, path):
                    return self._error(503, "SlowDown", "Please reduce your request rate.")
                if self.command == "PUT" and "partNumber=" in self.path:
                    fault = faults.take_part_fault(path)
                    if fault == "503":
                        return self._error(503, "SlowDown", "Please reduce your request rate.")
                    if fault == "drop":
                        self._record(path, 0)
                        self.close_connection = True
                        with contextlib.suppress(OSError):
                            self.connection.shutdown(socket.SHUT_RDWR)
                        return
                conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                cut = self.command == "GET" and len(data) > 1 and resp.status in (200, 206) and faults.take(
                    faults.cut, path)
                self._record(path, resp.status)
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in _HOP and (k.lower() != "content-length" or self.command == "HEAD"):
                        self.send_header(k, v)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                if cut:
                    self.send_header("Connection", "close")
                self.end_headers()
                if self.command == "HEAD":
                    return
                if cut:  # half the body, then the connection drops
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(data)

            def _record(self, path: str, status: int) -> None:
                with proxy.faults.lock:
                    proxy.faults.seen.append((self.command, path, status))

            def _error(self, status: int, code: str, message: str) -> None:
                self._record(self.path.split("?", 1)[0], status)
                data = _error_xml(code, message) if self.command != "HEAD" else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing-secret")


def upload_tree(client, bucket: str, prefix: str, folder: Path) -> list[str]:
    """Every file under `folder` to s3://bucket/prefix/<relative path>; returns the keys."""
    keys = []
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            key = f"{prefix.rstrip('/')}/{p.relative_to(folder).as_posix()}"
            client.upload_file(str(p), bucket, key)
            keys.append(key)
    return keys
