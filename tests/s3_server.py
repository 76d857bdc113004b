"""A real S3 API server for the tests: moto's server mode in a subprocess on a free loopback port.

`s3_server` (session fixture, imported by tests/conftest.py) yields an S3Server with .endpoint_url, .stop() and
.start() (to take the server down and bring it back, e.g. for /readyz); `s3_settings(server, bucket)` gives the app
settings of the S3 backend on a new bucket. moto accepts any credentials; the tests use "test"/"test".
"""
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class S3Server:
    def __init__(self):
        self.port = _free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.buckets = set()

    def start(self, wait: float = 30.0):
        if self.process is not None and self.process.poll() is None:
            return
        env = {**os.environ, **CREDENTIALS}
        self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/data.json", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError("moto server did not answer")
        for bucket in self.buckets:  # moto keeps buckets in memory: a restarted server gets them back, empty
            create_bucket(self.endpoint_url, bucket)

    def stop(self):
        """Stop the server (objects are lost: moto keeps them in memory; start() makes the buckets again)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def settings(self, bucket: str | None = None, prefix: str = "") -> dict:
        """App settings for the S3 backend on `bucket` (created here)."""
        bucket = bucket or f"test-{uuid.uuid4().hex[:12]}"
        create_bucket(self.endpoint_url, bucket)
        self.buckets.add(bucket)
        return {"STORAGE_BACKEND": "s3", "STORAGE_S3_BUCKET": bucket, "STORAGE_S3_ENDPOINT_URL": self.endpoint_url,
                "STORAGE_S3_REGION": "us-east-1", "STORAGE_S3_PREFIX": prefix,
                "STORAGE_S3_ACCESS_KEY": CREDENTIALS["AWS_ACCESS_KEY_ID"],
                "STORAGE_S3_SECRET_KEY": CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}


def create_bucket(endpoint_url: str, bucket: str):
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint_url, region_name="us-east-1",
                          aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    client.create_bucket(Bucket=bucket)


@pytest.fixture(scope="session")
def s3_server():
    server = S3Server()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3_bucket(s3_server):
    """App settings of the S3 backend on a bucket of this test module."""
    if s3_server.process is None:
        s3_server.start()
    return s3_server.settings()
