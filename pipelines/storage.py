"""The one file-system layer: local paths and object-store URLs (s3://, gs://, http(s)://) alike.

Built on fsspec: s3fs, gcsfs and fsspec's HTTPFileSystem share one API (open/glob/find/info) that
streams (range reads, block cache) and is what Beam workers, pyarrow and pandas users already have.
pyarrow.fs has no HTTP file system and no glob; Beam's `FileSystems` has no HTTP and is only usable
inside a pipeline's options. Local paths keep going through `open`/`glob`/`os` so that local runs are
unchanged byte for byte.

Faults (https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html: "retry
503 SlowDown with exponential backoff"): the SDK's own retries are turned off so that there is one
retry policy, here, per file: throttling, 5xx, dropped connections and timeouts are retried with
capped exponential backoff and full jitter, resuming a read at the byte it had reached, up to
`max_retries` failures in a row; then `StorageError` (an OSError naming the URL) is raised and the
reader rejects the file `unreadable_file`. Permission errors and missing buckets are never retried.

Credentials come only from each cloud's standard chain (environment, profile, instance role); this
module never puts them into a URL, a message or a file.
"""

from __future__ import annotations

import contextlib
import errno
import glob as _glob
import hashlib
import io
import json
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

# Schemes handled by fsspec; anything else (or no scheme) is a local path.
REMOTE_SCHEMES = ("s3", "s3a", "gs", "gcs", "http", "https", "memory")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")
MIN_PART_SIZE = 5 * 1024 * 1024  # S3's smallest multipart part (all but the last)
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024


@dataclass(frozen=True)
class StorageConfig:
    # S3-compatible stores (MinIO, R2, Ceph, a test server): null reads the AWS_ENDPOINT_URL variable.
    endpoint_url: str | None = None
    max_retries: int = 5  # failures in a row on one file before it is given up
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 20.0
    timeout_s: float = 60.0  # connect and read timeout of one request
    block_size: int = 8 * 1024 * 1024  # bytes per ranged GET while streaming
    # Bytes per part of a multipart upload (S3 allows 5 MiB to 5 GiB per part and 10,000 parts per
    # object: 16 MiB parts carry objects up to 156 GiB). A smaller file goes up in one PUT.
    part_size: int = 16 * 1024 * 1024

    def validate(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries: must be >= 0")
        if self.block_size < 64 * 1024:
            raise ValueError("block_size: must be at least 65536")
        if not MIN_PART_SIZE <= self.part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size: must be between {MIN_PART_SIZE} (5 MiB, the S3 minimum) and "
                             f"{MAX_PART_SIZE} (5 GiB)")
        if self.endpoint_url and "@" in self.endpoint_url:
            raise ValueError("endpoint_url: must not hold credentials (use the standard AWS variables)")


# Worker processes started by this one (Beam's multi-process DirectRunner, a local Dask cluster) inherit
# the options through this variable; workers elsewhere get them from the DoFns that carry them.
CONFIG_ENV = "CURATE_STORAGE_CONFIG"
_filesystems: dict[tuple, Any] = {}


def inherited() -> StorageConfig:
    """The options this process was started with (`CONFIG_ENV`), or the defaults."""
    import json

    text = os.environ.get(CONFIG_ENV)
    if not text:
        return StorageConfig()
    try:
        return StorageConfig(**json.loads(text))
    except (ValueError, TypeError):
        return StorageConfig()


_config = inherited()


def configure(cfg: StorageConfig) -> None:
    """Set this process's storage options (the CLI does, and each Beam worker in `setup`); processes it
    starts later inherit them."""
    import dataclasses
    import json

    global _config
    _config = cfg
    if cfg == StorageConfig():
        os.environ.pop(CONFIG_ENV, None)
    else:
        os.environ[CONFIG_ENV] = json.dumps(dataclasses.asdict(cfg))


def current_config() -> StorageConfig:
    return _config


class StorageError(OSError):
    """A file or bucket that could not be reached: the message names the URL."""

    def __init__(self, url: str, cause: BaseException, attempts: int = 1):
        self.url = url
        self.cause = cause
        self.attempts = attempts
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(getattr(cause, "errno", None) or errno.EIO, f"{url}: {_describe(cause)}{tries}")

    def __str__(self) -> str:
        return self.strerror or ""


def _describe(e: BaseException) -> str:
    text = str(e).strip() or repr(e)
    return f"{type(e).__name__}: {text}"[:500]


# ---- where a path lives ---------------------------------------------------------------------------


def scheme(path: str) -> str:
    m = _SCHEME.match(path)
    return m.group(1).lower() if m else ""


def is_remote(path: str) -> bool:
    return scheme(path) in REMOTE_SCHEMES


def join(base: str, name: str) -> str:
    """`base` + `name` with one separator, for URLs and local paths."""
    if is_remote(base):
        return base.rstrip("/") + "/" + name.lstrip("/")
    return os.path.join(base, name)


def has_magic(pattern: str) -> bool:
    return _glob.has_magic(pattern)


def glob_base(pattern: str) -> str:
    """The folder part of a glob before its first wildcard (a single file: its own folder)."""
    sep = "/" if is_remote(pattern) else os.sep
    head = ""
    if is_remote(pattern):
        m = _SCHEME.match(pattern)
        head, pattern_rest = pattern[: m.end()], pattern[m.end():]
    else:
        pattern_rest = pattern
    parts = pattern_rest.split(sep)
    fixed = []
    for p in parts:
        if has_magic(p):
            break
        fixed.append(p)
    base = head + sep.join(fixed)
    if base == pattern:
        return dirname(pattern)
    return base


def dirname(path: str) -> str:
    if is_remote(path):
        m = _SCHEME.match(path)
        head, rest = path[: m.end()], path[m.end():]
        return head + rest.rsplit("/", 1)[0] if "/" in rest else head + rest
    return os.path.dirname(path)


def relative(path: str, base: str) -> str:
    if is_remote(path):
        base = base.rstrip("/") + "/"
        return path[len(base):] if path.startswith(base) else path
    return os.path.relpath(path, base)


def redact(url: str) -> str:
    """A URL without user:password@ or a query string (where signed URLs keep their signature)."""
    if not is_remote(url):
        return url
    m = _SCHEME.match(url)
    head, rest = url[: m.end()], url[m.end():]
    host, slash, tail = rest.partition("/")
    host = host.rsplit("@", 1)[-1]
    return head + host + slash + tail.split("?", 1)[0]


def check_url(url: str) -> None:
    """Refuse credentials in a URL: they would end up in provenance, _SUCCESS and logs."""
    if is_remote(url):
        host = url[_SCHEME.match(url).end():].split("/", 1)[0]
        if "@" in host or re.search(r"[?&](X-Amz-Signature|X-Goog-Signature|Signature|sig)=", url, re.I):
            raise ValueError(
                f"{redact(url)}: credentials in a URL are refused (they would be written into the run); "
                "use the environment, a profile or an instance role"
            )


# ---- the fsspec file systems ----------------------------------------------------------------------


def filesystem(url: str):
    """The fsspec file system for a URL's scheme, configured once per process."""
    import fsspec

    proto = scheme(url)
    proto = {"s3a": "s3", "gcs": "gs"}.get(proto, proto)
    key = (proto, _config, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_ACCESS_KEY_ID"))
    fs = _filesystems.get(key)
    if fs is None:
        cfg = _config
        if proto == "s3":
            endpoint = cfg.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
            fs = fsspec.filesystem(
                "s3",
                endpoint_url=endpoint,
                default_block_size=cfg.block_size,
                skip_instance_cache=True,
                use_listings_cache=False,  # another writer may add files between two listings
                config_kwargs={
                    "retries": {"total_max_attempts": 1},
                    "connect_timeout": cfg.timeout_s,
                    "read_timeout": cfg.timeout_s,
                },
            )
            fs.retries = 1  # one retry policy: ours (s3fs would otherwise retry 5 times inside each call)
        elif proto in ("http", "https"):
            import aiohttp

            fs = fsspec.filesystem(
                proto,
                skip_instance_cache=True,
                client_kwargs={"timeout": aiohttp.ClientTimeout(total=None, sock_connect=cfg.timeout_s,
                                                                sock_read=cfg.timeout_s)},
            )
        elif proto == "gs":
            try:
                fs = fsspec.filesystem("gs", skip_instance_cache=True)
            except ImportError as e:
                raise StorageError(url, ImportError("gs:// needs gcsfs: pip install 'curate[gcs]'")) from e
        else:
            fs = fsspec.filesystem(proto)
        _filesystems[key] = fs
    return fs


def _strip(url: str) -> str:
    """The path as fsspec's S3/GCS file systems name it (no scheme); HTTP keeps its full URL."""
    if scheme(url) in ("http", "https"):
        return url
    return url[_SCHEME.match(url).end():]


def _unstrip(url_like: str, path: str) -> str:
    if scheme(url_like) in ("http", "https"):
        return path
    return url_like[: _SCHEME.match(url_like).end()] + path.lstrip("/")


# ---- retries --------------------------------------------------------------------------------------

_TRANSIENT_TEXT = re.compile(
    r"SlowDown|Throttl|ServiceUnavailable|Service Unavailable|InternalError|RequestTimeout|"
    r"\b5\d\d\b|Connection (?:reset|aborted|closed|lost)|timed? ?out|Payload|IncompleteRead|"
    r"Server disconnected|Not enough data|ResponseStreamingError|"
    r"reduce your request rate",  # s3fs turns a 503 SlowDown into OSError(EBUSY, "Please reduce your ...")
    re.I,
)


def is_permanent(e: BaseException) -> bool:
    """Permission errors and missing files/buckets never get better by retrying."""
    if isinstance(e, StorageError):
        e = e.cause
    return isinstance(e, PermissionError | FileNotFoundError | IsADirectoryError | NotADirectoryError)


def is_transient(e: BaseException) -> bool:
    if is_permanent(e):
        return False
    if isinstance(e, TimeoutError | ConnectionError):
        return True
    try:
        import aiohttp

        if isinstance(e, aiohttp.ClientResponseError):
            return e.status >= 500 or e.status == 429
        if isinstance(e, aiohttp.ClientError):
            return True
    except ImportError:  # pragma: no cover (aiohttp comes with s3fs)
        pass
    name = type(e).__name__
    if name in ("ReadTimeoutError", "ConnectTimeoutError", "EndpointConnectionError", "ConnectionClosedError",
                "ResponseStreamingError", "IncompleteReadError", "FSTimeoutError", "ProtocolError"):
        return True
    return bool(_TRANSIENT_TEXT.search(f"{name} {e}"))


def backoff_delay(attempt: int, cfg: StorageConfig | None = None, rng: random.Random | None = None) -> float:
    """Capped exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And
    Jitter", 2015): uniform in [0, min(cap, initial * 2**attempt)]."""
    cfg = cfg or _config
    cap = min(cfg.backoff_max_s, cfg.backoff_initial_s * (2 ** attempt))
    return (rng or random).uniform(0, cap)


def with_retries(url: str, action: Callable[[], Any], cfg: StorageConfig | None = None) -> Any:
    """Run `action`, retrying transient failures; permanent ones and the last one raise StorageError."""
    cfg = cfg or _config
    attempt = 0
    while True:
        try:
            return action()
        except StorageError:
            raise
        except Exception as e:  # noqa: BLE001 (classified just below)
            if not is_transient(e) or attempt >= cfg.max_retries:
                raise _as_storage_error(url, e, attempt + 1) from e
            time.sleep(backoff_delay(attempt, cfg))
            attempt += 1


def _as_storage_error(url: str, e: BaseException, attempts: int) -> StorageError:
    err = StorageError(redact(url), e, attempts)
    return err


# ---- reading --------------------------------------------------------------------------------------


class _RetryingReader(io.RawIOBase):
    """A remote file as a raw stream that survives dropped connections: on a transient error it reopens
    the object and goes on from the byte it had reached (a ranged GET), up to `max_retries` failures
    in a row."""

    def __init__(self, url: str, cfg: StorageConfig):
        super().__init__()
        self.url = url
        self.cfg = cfg
        self._pos = 0
        self._f = None
        self._size: int | None = None
        self._f = with_retries(url, self._open, cfg)

    def _open(self):
        fs = filesystem(self.url)
        if scheme(self.url) in ("http", "https"):
            # A stream (no HEAD, no ranges needed): the records arrive as they are read.
            f = fs.open(_strip(self.url), "rb", block_size=0)
        else:
            f = fs.open(_strip(self.url), "rb", block_size=self.cfg.block_size, cache_type="readahead")
            self._size = f.size
        if self._pos:
            if scheme(self.url) not in ("http", "https"):
                f.seek(self._pos)  # the next ranged GET starts there
            else:  # resume a plain stream by skipping what was already read (any server can do that)
                left = self._pos
                while left:
                    chunk = f.read(min(left, 1 << 20))
                    if not chunk:
                        raise ConnectionError("stream ended before the resume point")
                    left -= len(chunk)
        return f

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence == io.SEEK_END:
            if self._size is None:
                self._size = with_retries(self.url, lambda: size(self.url), self.cfg)
            offset += self._size
        if offset != self._pos:
            self._pos = max(0, offset)
            self._reset()
        return self._pos

    def _reset(self) -> None:
        f, self._f = self._f, None
        if f is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close
                f.close()

    def readinto(self, buffer) -> int:
        attempt = 0
        while True:
            try:
                if self._f is None:
                    self._f = self._open()
                data = self._f.read(len(buffer))
                n = len(data)
                buffer[:n] = data
                self._pos += n
                return n
            except Exception as e:  # noqa: BLE001 (classified just below)
                self._reset()
                if not is_transient(e) or attempt >= self.cfg.max_retries:
                    raise _as_storage_error(self.url, e, attempt + 1) from e
                time.sleep(backoff_delay(attempt, self.cfg))
                attempt += 1

    def close(self) -> None:
        self._reset()
        super().close()


def open_read(path: str) -> IO[bytes]:
    """A buffered binary stream of a local file or a URL (streamed in blocks, never fetched whole)."""
    if not is_remote(path):
        return open(path, "rb")  # noqa: SIM115 (the caller closes it)
    return io.BufferedReader(_RetryingReader(path, _config), buffer_size=1 << 20)


def open_write(path: str, record_digest: bool = False) -> IO[bytes]:
    """A binary stream that creates (or replaces) a file. A remote file is uploaded in parts of
    `part_size` bytes and appears whole on a clean close, never in part: leaving the `with` block on an
    exception aborts the multipart upload (see `discard`). `record_digest`: a remote file's size and
    sha256, computed while it is written, are left beside it in `digest_path(path)` once it is complete
    (for a stage commit, which would otherwise read the whole object back to hash it)."""
    if not is_remote(path):
        return open(path, "wb")  # noqa: SIM115 (the caller closes it)
    check_url(path)
    fs = filesystem(path)
    part = _config.part_size
    f = with_retries(path, lambda: fs.open(_strip(path), "wb", block_size=part))
    _retry_requests(path, f)
    return _RemoteWriter(path, f, record_digest)


DIGEST_SUFFIX = ".sha256"


def digest_path(path: str) -> str:
    """Where `open_write(path, record_digest=True)` leaves the size and sha256 of a remote file: a hidden
    name beside it (`.NAME.sha256`, which listings of a stage's files skip)."""
    head, _, name = path.rpartition("/")
    return f"{head}/.{name}{DIGEST_SUFFIX}"


def recorded_digest(path: str, size: int, digests: set[str]) -> str | None:
    """The sha256 recorded for `path` when it was written (`digests`: the digest files present), if its
    size still matches the file's `size`; else None (the caller hashes the file)."""
    where = digest_path(path)
    if where not in digests:
        return None
    try:
        recorded = json.loads(read_bytes(where))
    except (OSError, ValueError):
        return None
    return str(recorded["sha256"]) if recorded.get("size") == size and recorded.get("sha256") else None


def _retry_requests(url: str, f: Any) -> None:
    """Each request of an s3fs upload (create, each UploadPart, complete) goes through `with_retries`:
    s3fs's own retries are off (see `filesystem`), and without this a 503 or a dropped connection on one
    part would fail the whole file. A part is numbered before its request and recorded only after it
    succeeded, so sending the same part again is safe (S3 keeps the last upload of a part number)."""
    call = getattr(f, "_call_s3", None)
    if call is None:  # not s3fs (gcsfs retries its own requests)
        return

    def retried(method: str, *args: Any, **kwargs: Any) -> Any:
        return with_retries(url, lambda: call(method, *args, **kwargs))

    f._call_s3 = retried


class _RemoteWriter(io.RawIOBase):
    """An fsspec write stream whose errors name the URL and whose failure leaves no object behind."""

    def __init__(self, url: str, f: Any, record_digest: bool = False):
        super().__init__()
        self.url, self._f = url, f
        self._hash = hashlib.sha256() if record_digest else None
        self._size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        try:
            n = self._f.write(data)
            if self._hash is not None:
                self._hash.update(data)
                self._size += len(memoryview(data))
            return n
        except StorageError:  # a part upload that failed after its retries (`_retry_requests`)
            raise
        except Exception as e:  # noqa: BLE001 (the part upload failed: name the URL)
            raise _as_storage_error(self.url, e, 1) from e

    def tell(self) -> int:
        return self._f.tell()

    def flush(self) -> None:  # parts go up when they are full; close() sends the rest
        pass

    def discard(self) -> None:
        """Abort: the upload's parts are dropped and no object appears."""
        if not self.closed:
            with contextlib.suppress(Exception):
                self._f.discard()
            self._f.closed = True
            super().close()

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._f.close()
        except Exception as e:  # noqa: BLE001
            with contextlib.suppress(Exception):
                self._f.discard()
            if isinstance(e, StorageError):
                raise
            raise _as_storage_error(self.url, e, 1) from e
        finally:
            super().close()
        if self._hash is not None:  # after the object is complete: a digest never names a missing file
            write_bytes(digest_path(self.url), json.dumps({"size": self._size, "sha256": self._hash.hexdigest()},
                                                          sort_keys=True).encode())

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()
        else:
            self.close()


def discard(f: IO[bytes]) -> None:
    """Give up a stream from `open_write`: a remote upload is aborted (nothing appears), a local file is
    closed (the caller removes it)."""
    if isinstance(f, _RemoteWriter):
        f.discard()
    else:
        f.close()


_local_copies: dict[str, str] = {}


def local_copy(path: str) -> str:
    """A local path holding the file at `path` (itself when local; a remote file is fetched once per
    process into a temporary folder), for libraries that open files by name (SentencePiece)."""
    if not is_remote(path):
        return path
    if path not in _local_copies:
        import tempfile

        folder = tempfile.mkdtemp(prefix="curate-copy-")
        local = os.path.join(folder, path.rstrip("/").rsplit("/", 1)[-1])
        with open(local, "wb") as f:
            f.write(read_bytes(path))
        _local_copies[path] = local
    return _local_copies[path]


def read_bytes(path: str) -> bytes:
    with open_read(path) as f:
        return f.read()


def write_bytes(path: str, data: bytes) -> None:
    """A whole small file (JSON, a model), replacing any old one; a remote object appears at once."""
    if not is_remote(path):
        with open(path, "wb") as f:
            f.write(data)
        return
    check_url(path)
    fs = filesystem(path)
    with_retries(path, lambda: fs.pipe_file(_strip(path), data))


def remove(path: str) -> None:
    """Delete a file if it exists."""
    if not is_remote(path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    fs = filesystem(path)

    def rm():
        with contextlib.suppress(FileNotFoundError):
            fs.rm_file(_strip(path))

    with_retries(path, rm)


def remove_files(paths: list[str]) -> None:
    """Delete files that may exist; on an object store in batched requests (S3: 1,000 keys each)."""
    remote = [p for p in paths if is_remote(p)]
    for p in paths:
        if not is_remote(p):
            remove(p)
    if not remote:
        return
    fs = filesystem(remote[0])
    with_retries(remote[0], lambda: fs.rm([_strip(p) for p in remote]))


def remove_tree(path: str) -> None:
    """Delete a folder (a local tree, or every object under a URL prefix) if it exists."""
    if not is_remote(path):
        import shutil

        shutil.rmtree(path, ignore_errors=True)
        return
    remove_files([e.path for e in walk_files(path, hidden=True)])


def makedirs(path: str) -> None:
    """A local folder and its parents; object stores have no folders (a no-op there)."""
    if not is_remote(path):
        os.makedirs(path, exist_ok=True)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open_read(path) as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# ---- listing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    path: str  # local path or full URL
    size: int


def exists(path: str) -> bool:
    if not is_remote(path):
        return os.path.exists(path)
    return with_retries(path, lambda: filesystem(path).exists(_strip(path)))


def isdir(path: str) -> bool:
    if not is_remote(path):
        return os.path.isdir(path)
    if scheme(path) in ("http", "https"):
        return False
    return with_retries(path, lambda: filesystem(path).isdir(_strip(path)))


def size(path: str) -> int:
    if not is_remote(path):
        return os.path.getsize(path)
    return with_retries(path, lambda: int(filesystem(path).size(_strip(path)) or 0))


def glob(pattern: str) -> list[str]:
    """Sorted matches of a pattern (`**` recursive); a URL without wildcards matches itself if it exists."""
    return [e.path for e in glob_entries(pattern)]


def glob_entries(pattern: str) -> list[Entry]:
    """Sorted matches of a pattern with their sizes; folders come back as entries of size -1."""
    if not is_remote(pattern):
        out = []
        for m in sorted(_glob.glob(pattern, recursive=True)):
            out.append(Entry(m, -1 if os.path.isdir(m) else os.path.getsize(m)))
        return out
    check_url(pattern)
    if scheme(pattern) in ("http", "https"):
        if has_magic(pattern.split("?", 1)[0]):
            raise ValueError(f"{redact(pattern)}: wildcards need a listable store (s3://, gs://); "
                             "give each https:// file, or a path list with --input-list")
        try:
            return [Entry(pattern, size(pattern))]
        except StorageError as e:
            if isinstance(e.cause, FileNotFoundError):
                return []
            raise
    fs = filesystem(pattern)
    _check_bucket(pattern)
    if has_magic(pattern):
        found = with_retries(pattern, lambda: fs.glob(_strip(pattern), detail=True))
    else:
        found = with_retries(pattern, lambda: _info_or_empty(fs, _strip(pattern)))
    out = []
    for p, info in sorted(found.items()):
        kind = info.get("type")
        out.append(Entry(_unstrip(pattern, p), -1 if kind == "directory" else int(info.get("size") or 0)))
    return out


def _info_or_empty(fs, path: str) -> dict[str, dict]:
    try:
        return {path: fs.info(path)}
    except FileNotFoundError:
        return {}


def check_reachable(url: str) -> None:
    """Fail fast (StorageError naming the URL) if the bucket of a URL is missing or may not be listed."""
    if scheme(url) not in ("http", "https") and is_remote(url):
        _check_bucket(url)


def _check_bucket(url: str) -> None:
    """A missing bucket or one we may not list is a systemic problem: fail now, naming it."""
    bucket = _strip(url).split("/", 1)[0]
    if not bucket:
        raise ValueError(f"{redact(url)}: no bucket in the URL")
    fs = filesystem(url)
    root = _unstrip(url, bucket)

    def probe():
        # One key under the pattern's folder: NoSuchBucket -> FileNotFoundError, AccessDenied ->
        # PermissionError (s3fs translates both), whatever the bucket's size.
        if scheme(url) in ("s3", "s3a"):
            prefix = _strip(glob_base(url)).split("/", 1)[1] if "/" in _strip(glob_base(url)) else ""
            return fs.call_s3("list_objects_v2", Bucket=bucket, Prefix=prefix, MaxKeys=1)
        return fs.ls(bucket, detail=False, refresh=True)

    try:
        with_retries(root, probe)
    except StorageError as e:
        if isinstance(e.cause, FileNotFoundError):
            raise StorageError(redact(root), FileNotFoundError(errno.ENOENT, "bucket does not exist")) from e
        raise


def walk_files(folder: str, hidden: bool = False) -> list[Entry]:
    """Every file under a folder, recursively, sorted, hidden names (.*) skipped unless `hidden`."""
    if not is_remote(folder):
        return [
            Entry(p, os.path.getsize(p))
            for p in sorted(os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs
                            if hidden or not f.startswith("."))
        ]
    fs = filesystem(folder)
    found = with_retries(folder, lambda: fs.find(_strip(folder).rstrip("/") + "/", detail=True))
    out = []
    for p, info in sorted(found.items()):
        if not hidden and p.rsplit("/", 1)[-1].startswith("."):
            continue
        out.append(Entry(_unstrip(folder, p), int(info.get("size") or 0)))
    return out


# ---- whole files ----------------------------------------------------------------------------------


def copy(src: str, dst: str) -> int:
    """Copy one file between any two places (local path or URL), streaming; returns the bytes copied.
    A remote destination appears only when complete (a multipart upload is committed on close)."""
    n = 0
    if not is_remote(dst):
        os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    with open_read(src) as fin, open_write(dst) as fout:
        while block := fin.read(_config.block_size):
            fout.write(block)
            n += len(block)
    return n

