"""The S3 backend (any S3-compatible server: AWS, MinIO, Ceph, moto in the tests), through boto3.

The bucket stays private: objects are read only by the platform and streamed through its scoped, audited
endpoints; no presigned or public URL is ever made. Keys live under STORAGE_S3_PREFIX.
"""
import os

from .base import Missing, Store, StorageError, check_key, check_prefix

_MISSING_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


def _client(endpoint_url, region, access_key, secret_key):
    import boto3
    from botocore.config import Config

    # short timeouts and one retry: a request never hangs on a lost server (/readyz answers within its deadline)
    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"},
                    signature_version="s3v4", s3={"addressing_style": "path"})
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url or None, region_name=region or "us-east-1",
        aws_access_key_id=access_key or None, aws_secret_access_key=secret_key or None, config=config)


def _code(exc) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


class S3Store(Store):
    name = "s3"

    def __init__(self, bucket: str, endpoint_url=None, region="us-east-1", prefix="", access_key=None,
                 secret_key=None):
        if not bucket:
            raise StorageError("STORAGE_S3_BUCKET is not set")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix and prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.client = _client(endpoint_url, region, access_key, secret_key)

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _fail(self, exc, key=None):
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError):
            if _code(exc) in _MISSING_CODES and key is not None:
                return Missing(key)
            return StorageError(f"object storage refused: {_code(exc) or 'error'}")
        if isinstance(exc, BotoCoreError):
            return StorageError(f"object storage unreachable: {type(exc).__name__}")
        return exc

    def _call(self, fn, key=None, **kwargs):
        try:
            return fn(**kwargs)
        except Exception as exc:  # botocore's errors become OSError subclasses for the callers
            raise self._fail(exc, key) from None

    # --- writing ---
    def put_file(self, key, path, exclusive=False, move=False) -> bool:
        name = self._key(key)
        with open(path, "rb") as body:
            size = os.fstat(body.fileno()).st_size
            extra = {"IfNoneMatch": "*"} if exclusive else {}
            try:
                if size > 64 * 1024 * 1024 and not exclusive:
                    from boto3.s3.transfer import TransferConfig

                    self.client.upload_fileobj(body, self.bucket, name,
                                               Config=TransferConfig(multipart_chunksize=64 * 1024 * 1024))
                else:
                    self.client.put_object(Bucket=self.bucket, Key=name, Body=body, ContentLength=size, **extra)
            except Exception as exc:
                if exclusive and _code(exc) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                    return False
                raise self._fail(exc, key) from None
        if move:
            os.unlink(path)
        return True

    def put(self, key, data) -> int:
        if isinstance(data, (bytes, bytearray, memoryview)):
            self._call(self.client.put_object, key, Bucket=self.bucket, Key=self._key(key), Body=bytes(data))
            return len(data)
        return super().put(key, data)

    # --- reading ---
    def open(self, key):
        answer = self._call(self.client.get_object, key, Bucket=self.bucket, Key=self._key(key))
        return _Body(answer["Body"], self, key)

    def _head(self, key):
        return self._call(self.client.head_object, key, Bucket=self.bucket, Key=self._key(key))

    def exists(self, key) -> bool:
        try:
            self._head(key)
        except Missing:
            return False
        return True

    def size(self, key) -> int:
        return int(self._head(key)["ContentLength"])

    def delete(self, key) -> None:
        self._call(self.client.delete_object, key, Bucket=self.bucket, Key=self._key(key))

    def list(self, prefix: str = "") -> list[str]:
        check_prefix(prefix)
        keys = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                keys.extend(item["Key"][len(self.prefix):] for item in page.get("Contents", ()))
        except Exception as exc:
            raise self._fail(exc) from None
        return sorted(keys)

    def probe(self) -> None:
        """The bucket answers and takes a small object, removed again."""
        key = f"{self.prefix}.readyz-{os.getpid()}"
        self._call(self.client.put_object, Bucket=self.bucket, Key=key, Body=b"ok")
        self._call(self.client.delete_object, Bucket=self.bucket, Key=key)

    def create_bucket(self) -> None:
        """Create the bucket if it is not there (tests, first deployment); never public."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception:
            self._call(self.client.create_bucket, Bucket=self.bucket)


class _Body:
    """The streaming body of an object as a file object; a read error mid-stream becomes a StorageError."""

    def __init__(self, body, store, key):
        self._body, self._store, self._key = body, store, key

    def read(self, size=-1):
        try:
            return self._body.read(None if size is None or size < 0 else size)
        except Exception as exc:
            raise self._store._fail(exc, self._key) from None

    def readable(self):
        return True

    def close(self):
        self._body.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
