"""The ``s3`` raw store: any S3-compatible object store, through boto3.

Keys are content addresses, ``<prefix>/ab/cd/<sha256>``. Credentials come from settings or
boto3's own chain (environment, instance profile); nothing is hard-coded.

Writing: a file that fits in one part (8 MiB) is hashed in memory and PUT straight to its key
with a SHA256 checksum. A larger file is streamed from its source as a multipart upload to a
staging key (``<prefix>/.staging/<uuid>``), each part carrying its SHA256 checksum; only when
its sha256 is known is it server-side copied to its content key, with the object store
computing a full-object SHA256 that must equal our hash, and the staging object is deleted.
Nothing ever appears under a content key until it is complete and verified; an upload killed
midway leaves only an incomplete multipart upload (invisible; ``sweep_staging`` aborts it).
Object stores verify the checksums they are sent (moto's server mode echoes them instead, so
the tests rely on our own comparison of the server's full-object checksum after the copy).

Reading: ``get_object`` streamed in 1 MiB chunks, checked against the stored checksum up front
and re-hashed to the end (``CorruptBlobError``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import itertools
import os
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn

from gateway.crashpoints import crash_point
from gateway.errors import ConfigError
from gateway.logging import get_logger
from gateway.store.base import (
    CHUNK,
    IDENTITY,
    BlobCorruptError,
    BlobNotFoundError,
    StoredBlob,
    StoreUnavailableError,
    StreamTransform,
    VerifyingReader,
    check_sha256,
    hashed_chunks,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

log = get_logger("gateway.store")
#: multipart part size: S3's minimum is 5 MiB; 8 MiB keeps memory flat and requests few
PART_SIZE = 8 * 1024 * 1024
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_DENIED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "NoSuchBucket"}


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _translate(exc: Exception, what: str) -> NoReturn:
    """Map botocore errors onto ours (missing key, misconfiguration, unreachable)."""
    from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError

    if isinstance(exc, FlexibleChecksumError):
        raise BlobCorruptError(f"{what}: the object store's checksum does not match") from exc
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _NOT_FOUND:
            raise BlobNotFoundError(f"{what} is not in the store") from exc
        if code in _DENIED:
            raise ConfigError(f"object store refused {what}: {code}", code="s3_config") from exc
        raise StoreUnavailableError(f"object store error on {what}: {code}") from exc
    if isinstance(exc, BotoCoreError):
        raise StoreUnavailableError(f"object store unreachable ({type(exc).__name__})") from exc
    raise exc


def _drain_list(head: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    """``head`` then ``rest``, dropping each head item once yielded (memory stays flat)."""
    while head:
        yield head.pop(0)
    yield from rest


class S3RawStore:
    """Content-addressed raw files in an S3 bucket under a prefix."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "raw",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        part_size: int = PART_SIZE,
        transform: StreamTransform = IDENTITY,
    ) -> None:
        if not bucket:
            raise ConfigError("the s3 raw store needs a bucket (GATEWAY_S3_BUCKET)")
        if part_size < 5 * 1024 * 1024:
            raise ConfigError("S3 multipart parts must be at least 5 MiB")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._endpoint_url = endpoint_url
        self._region = region
        self._credentials = (access_key_id, secret_access_key)
        self._part_size = part_size
        self._transform = transform
        self._client: S3Client | None = None
        self._pid = 0

    @property
    def client(self) -> S3Client:
        """This process's client (boto3 clients are not fork-safe)."""
        if self._client is None or self._pid != os.getpid():
            import boto3
            from botocore.config import Config

            key_id, secret = self._credentials
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=self._endpoint_url,
                region_name=self._region,
                aws_access_key_id=key_id,
                aws_secret_access_key=secret,
                config=Config(
                    retries={"mode": "standard", "max_attempts": 5},
                    connect_timeout=10,
                    read_timeout=120,
                    s3={"addressing_style": "path"} if self._endpoint_url else None,
                ),
            )
            self._pid = os.getpid()
        return self._client

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def dispose(self) -> None:
        """Close this process's client and its connection pool."""
        if self._client is not None and self._pid == os.getpid():
            self._client.close()
        self._client = None

    def key_for(self, sha256: str) -> str:
        check_sha256(sha256)
        name = f"{sha256[:2]}/{sha256[2:4]}/{sha256}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def _staging(self) -> str:
        name = f".staging/{uuid.uuid4().hex}"
        return f"{self.prefix}/{name}" if self.prefix else name

    # -- writing --------------------------------------------------------------------------

    def put(self, stream: BinaryIO, *, max_bytes: int | None = None) -> StoredBlob:
        return self._write(stream, max_bytes=max_bytes, replace=False)

    def _write(self, stream: BinaryIO, *, max_bytes: int | None, replace: bool) -> StoredBlob:
        """Store ``stream``; ``replace`` overwrites an existing object (re-encryption)."""
        digest = hashlib.sha256()
        size = [0]
        chunks = hashed_chunks(
            stream, digest, max_bytes=max_bytes, size=size, chunk_size=self._part_size
        )
        head = list(itertools.islice(chunks, 2))
        if len(head) < 2:
            return self._put_small(head[0] if head else b"", digest.hexdigest(), replace)
        return self._put_multipart(_drain_list(head, chunks), digest, size, replace)

    def reencrypt(self, sha256: str) -> bool:
        """Rewrite the object under the active data key unless it already is; True if rewritten.

        An S3 PUT/copy replaces the object atomically: readers see the old or the new bytes.
        """
        needs = getattr(self._transform, "needs_rotation", None)
        if needs is None:
            return False
        try:
            resp = self.client.get_object(
                Bucket=self.bucket, Key=self.key_for(sha256), Range="bytes=0-63"
            )
        except Exception as exc:
            _translate(exc, f"raw file {sha256[:12]}")
        head = resp["Body"].read()
        if not needs(head):
            return False
        with self.open(sha256) as src:
            blob = self._write(src, max_bytes=None, replace=True)
        if blob.sha256 != sha256:  # pragma: no cover - the reader raises first
            raise BlobCorruptError(f"raw file {sha256[:12]} changed while re-encrypting")
        return True

    def _put_small(self, data: bytes, sha: str, replace: bool = False) -> StoredBlob:
        key = self.key_for(sha)
        if not replace and self.exists(sha):
            return StoredBlob(sha, len(data))
        body = b"".join(self._transform.encode([data]))
        stored_sha = hashlib.sha256(body).digest()
        try:
            resp = self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_b64(stored_sha),
            )
        except Exception as exc:
            _translate(exc, f"raw file {sha[:12]}")
        echoed = resp.get("ChecksumSHA256")
        if echoed is not None and echoed != _b64(stored_sha):
            self._delete_key(key)
            raise BlobCorruptError(f"object store stored other bytes for raw file {sha[:12]}")
        return StoredBlob(sha, len(data))

    def _put_multipart(
        self, chunks: Iterator[bytes], digest: hashlib._Hash, size: list[int], replace: bool = False
    ) -> StoredBlob:
        staging = self._staging()
        stored = hashlib.sha256()
        try:
            upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=staging, ChecksumAlgorithm="SHA256"
            )["UploadId"]
        except Exception as exc:
            _translate(exc, "a multipart upload")
        parts: list[CompletedPartTypeDef] = []
        try:
            for number, part in enumerate(self._transform.encode(chunks), start=1):
                stored.update(part)
                resp = self.client.upload_part(
                    Bucket=self.bucket,
                    Key=staging,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=part,
                    ChecksumAlgorithm="SHA256",
                )
                parts.append(
                    {
                        "ETag": resp["ETag"],
                        "PartNumber": number,
                        "ChecksumSHA256": resp["ChecksumSHA256"],
                    }
                )
                crash_point("raw_part")
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=staging,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException as exc:
            try:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=staging, UploadId=upload_id
                )
            except Exception:  # best effort: sweep_staging clears leftovers
                log.warning("s3_abort_failed", key=staging)
            if isinstance(exc, Exception):
                _translate(exc, "a multipart upload")
            raise
        sha = digest.hexdigest()
        try:
            if replace or not self.exists(sha):
                self._promote(staging, sha, stored.digest())
        finally:
            self._delete_key(staging)
        return StoredBlob(sha, size[0])

    def _promote(self, staging: str, sha: str, stored_sha: bytes) -> None:
        """Server-side copy staging → content key; the server's full-object SHA256 must match."""
        key = self.key_for(sha)
        try:
            resp = self.client.copy_object(
                Bucket=self.bucket,
                Key=key,
                CopySource={"Bucket": self.bucket, "Key": staging},
                ChecksumAlgorithm="SHA256",
                MetadataDirective="REPLACE",
            )
        except Exception as exc:
            _translate(exc, f"raw file {sha[:12]}")
        server = resp.get("CopyObjectResult", {}).get("ChecksumSHA256")
        if server is None:
            head = self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
            server = head.get("ChecksumSHA256")
        if server != _b64(stored_sha):
            self._delete_key(key)
            raise BlobCorruptError(
                f"object store checksum of raw file {sha[:12]} does not match the bytes sent"
            )

    def _delete_key(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            _translate(exc, "a staging object")

    # -- reading --------------------------------------------------------------------------

    def _get(self, sha256: str) -> Any:
        key = self.key_for(sha256)
        try:
            resp = self.client.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except Exception as exc:
            _translate(exc, f"raw file {sha256[:12]}")
        server = resp.get("ChecksumSHA256")
        full = server is not None and "-" not in server
        if full and self._transform is IDENTITY and server != _b64(bytes.fromhex(sha256)):
            resp["Body"].close()
            raise BlobCorruptError(f"raw file {sha256[:12]} does not match its sha256")
        return resp["Body"]

    def _chunks(self, body: Any, sha256: str) -> Iterator[bytes]:
        try:
            yield from body.iter_chunks(CHUNK)
        except Exception as exc:
            _translate(exc, f"raw file {sha256[:12]}")

    def open(self, sha256: str) -> BinaryIO:
        body = self._get(sha256)
        chunks = self._transform.decode(self._chunks(body, sha256))
        return io.BufferedReader(VerifyingReader(chunks, sha256, on_close=body.close), CHUNK)

    def read(self, sha256: str) -> bytes:
        with self.open(sha256) as fh:
            return fh.read()

    def exists(self, sha256: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key_for(sha256))
        except BlobNotFoundError:
            return False
        except Exception as exc:
            try:
                _translate(exc, f"raw file {sha256[:12]}")
            except BlobNotFoundError:
                return False
        return True

    # -- retention and housekeeping -------------------------------------------------------

    def delete(self, sha256: str) -> bool:
        if not self.exists(sha256):
            return False
        self._delete_key(self.key_for(sha256))
        return True

    def sweep_staging(self, older_than_seconds: float = 86400.0) -> int:
        """Abort multipart uploads and delete staging objects left by killed uploads."""
        prefix = self._staging().rsplit("/", 1)[0] + "/"
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=older_than_seconds)
        n = 0
        try:
            uploads = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix)
            for up in uploads.get("Uploads", []):
                if up["Initiated"] < cutoff:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"]
                    )
                    n += 1
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    if obj["LastModified"] < cutoff:
                        self.client.delete_object(Bucket=self.bucket, Key=obj["Key"])
                        n += 1
        except Exception as exc:
            _translate(exc, "staging objects")
        return n
