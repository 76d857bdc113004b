"""The storage interface (app/services/storage/) on both backends: the local folder and S3 (moto's server on
loopback, a real S3 API): put, get, open (streaming), exists, size, delete, list, sha256; unsafe keys are refused;
an upload is visible only complete."""
import hashlib
import io
import os
import threading

import pytest

from app.services.storage import Missing, StorageError, make_store
from app.services.storage.local import LocalStore
from tests.s3_server import CREDENTIALS


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "storage", {"attachments": tmp_path / "uploads", "jobs": tmp_path / "results"})
    server = request.getfixturevalue("s3_server")
    settings = server.settings()
    return make_store(("s3", settings["STORAGE_S3_BUCKET"], server.endpoint_url, "us-east-1", "pfx",
                       CREDENTIALS["AWS_ACCESS_KEY_ID"], CREDENTIALS["AWS_SECRET_ACCESS_KEY"]))


def test_put_get_open_exists_size_delete_list(store):
    assert not store.exists("attachments/1/aa") and store.list("attachments/") == []
    store.put("attachments/1/aa", b"hello")
    store.put("attachments/2/bb", io.BytesIO(b"x" * 3000))
    store.put("jobs/7-cafe.csv", b"a,b\n")
    assert store.exists("attachments/1/aa") and store.size("attachments/2/bb") == 3000
    assert store.get("attachments/1/aa") == b"hello"
    with store.open("attachments/2/bb") as fh:  # streaming: read in pieces
        assert fh.read(1000) == b"x" * 1000
        assert len(fh.read()) == 2000
    assert store.sha256("attachments/1/aa") == hashlib.sha256(b"hello").hexdigest()
    assert store.list("attachments/") == ["attachments/1/aa", "attachments/2/bb"]
    assert store.list("attachments/1/") == ["attachments/1/aa"]
    assert store.list("") == ["attachments/1/aa", "attachments/2/bb", "jobs/7-cafe.csv"]
    store.delete("attachments/1/aa")
    store.delete("attachments/1/aa")  # again: no error
    assert not store.exists("attachments/1/aa")
    with pytest.raises(Missing):
        store.get("attachments/1/aa")
    with pytest.raises(FileNotFoundError):  # Missing is a FileNotFoundError for callers catching OSError
        store.open("jobs/nothing.csv")
    with pytest.raises(Missing):
        store.size("jobs/nothing.csv")


def test_put_file_exclusive_and_move(store, tmp_path):
    source = tmp_path / "part.pdf"
    source.write_bytes(b"%PDF first")
    assert store.put_file("jobs/9-part-0.pdf", source, exclusive=True) is True
    other = tmp_path / "other.pdf"
    other.write_bytes(b"%PDF second")
    assert store.put_file("jobs/9-part-0.pdf", other, exclusive=True) is False  # one of two writers publishes
    assert store.get("jobs/9-part-0.pdf") == b"%PDF first"
    store.put_file("jobs/9-part-0.pdf", other, move=True)  # not exclusive: replaces
    assert store.get("jobs/9-part-0.pdf") == b"%PDF second" and not other.exists()
    with store.as_file("jobs/9-part-0.pdf", ".pdf") as path:
        assert path.read_bytes() == b"%PDF second"


@pytest.mark.parametrize("key", ["../x", "attachments/../../etc/passwd", "/etc/passwd", "attachments//x",
                                 "attachments/./x", "attachments\\..\\x", "", "attachments/\x00", "a/ b"])
def test_unsafe_keys_refused(store, key):
    with pytest.raises(ValueError):
        store.put(key, b"x")
    with pytest.raises(ValueError):
        store.open(key)


def test_local_keys_stay_in_their_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    store = LocalStore(tmp_path / "storage", {"attachments": tmp_path / "uploads"})
    (tmp_path / "uploads").mkdir()
    os.symlink(outside, tmp_path / "uploads" / "link")  # a link planted in the store
    with pytest.raises(ValueError):
        store.get("attachments/link/secret")
    with pytest.raises(ValueError):
        store.path("attachments")  # an area itself is no object
    assert store.list("attachments/") == []  # links are not followed
    store.put("attachments/1/a", b"a")
    assert (tmp_path / "uploads" / "1" / "a").read_bytes() == b"a"  # keys map to the existing folders
    store.put("reports/r.pdf", b"r")
    assert (tmp_path / "storage" / "reports" / "r.pdf").read_bytes() == b"r"


class _Slow(io.RawIOBase):
    """A stream that stops halfway until released (a big upload in progress)."""

    def __init__(self, half: threading.Event, go_on: threading.Event, size=4 * 1024 * 1024):
        self.half, self.go_on, self.left, self.sent = half, go_on, size, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.left <= 0:
            return 0
        if self.sent >= 2 * 1024 * 1024 and not self.go_on.is_set():
            self.half.set()
            assert self.go_on.wait(30)
        n = min(len(buffer), self.left, 64 * 1024)
        buffer[:n] = b"y" * n
        self.left -= n
        self.sent += n
        return n


def test_half_written_upload_is_never_visible(store):
    store.put("jobs/1-result.csv", b"old")
    half, go_on = threading.Event(), threading.Event()
    errors = []

    def upload():
        try:
            store.put("jobs/1-result.csv", _Slow(half, go_on))
            store.put("jobs/2-result.csv", _Slow(threading.Event(), threading.Event(), 10))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    writer = threading.Thread(target=upload)
    writer.start()
    assert half.wait(30)
    assert store.get("jobs/1-result.csv") == b"old"  # the old object, whole, while the new one is written
    assert store.list("jobs/") == ["jobs/1-result.csv"]  # no temporary object to be seen
    go_on.set()
    writer.join(60)
    assert not errors
    assert store.size("jobs/1-result.csv") == 4 * 1024 * 1024
    assert store.list("jobs/") == ["jobs/1-result.csv", "jobs/2-result.csv"]


def test_s3_down_is_a_storage_error(s3_server):
    settings = s3_server.settings()
    store = make_store(("s3", settings["STORAGE_S3_BUCKET"], s3_server.endpoint_url, "us-east-1", "",
                        "test", "test"))
    store.probe()
    s3_server.stop()
    try:
        with pytest.raises(StorageError):
            store.probe()
        with pytest.raises(OSError):
            store.get("attachments/1/a")
    finally:
        s3_server.start()
