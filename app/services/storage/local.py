"""The local-folder backend: the embedded default.

The first segment of a key chooses a folder, so existing instances keep their files where they are:
`attachments/…` under UPLOAD_FOLDER, `jobs/…` under JOB_RESULT_FOLDER, `backups/…` under BACKUP_FOLDER, any other
`<area>/…` under STORAGE_FOLDER/<area>. A key never leaves its folder (checked after resolving links).
"""
import errno
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from .base import CHUNK, Missing, Store, check_key, check_prefix


class LocalStore(Store):
    name = "local"

    def __init__(self, root, areas: dict | None = None):
        self.root = Path(root)
        self.areas = {name: Path(folder) for name, folder in (areas or {}).items() if folder}

    # --- where a key lives ---
    def _folder(self, area: str) -> Path:
        return self.areas.get(area) or self.root / area

    def path(self, key: str) -> Path:
        check_key(key)
        area, _, rest = key.partition("/")
        if not rest:
            raise ValueError(f"storage key {key!r} names no object inside an area")
        folder = self._folder(area).resolve()
        path = (folder / rest).resolve()
        if folder not in path.parents:
            raise ValueError(f"storage key {key!r} escapes its folder")
        return path

    def local_path(self, key: str) -> Path:
        return self.path(key)

    # --- writing ---
    def put_file(self, key, path, exclusive=False, move=False) -> bool:
        target, source = self.path(key), Path(path)
        if source.resolve() == target:
            return True  # the producer wrote it in place already
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            if move:
                try:
                    os.replace(source, tmp)
                except OSError as exc:
                    if exc.errno != errno.EXDEV:
                        raise
                    shutil.copyfile(source, tmp)
            else:
                shutil.copyfile(source, tmp)
            if exclusive:
                try:
                    os.link(tmp, target)  # of two writers, one publishes
                except FileExistsError:
                    return False
                return True
            os.replace(tmp, target)
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def put(self, key, data) -> int:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, (bytes, bytearray, memoryview)):
                    out.write(data)
                else:
                    shutil.copyfileobj(data, out, CHUNK)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return target.stat().st_size

    # --- reading ---
    def open(self, key):
        path = self.path(key)
        try:
            if not path.is_file():
                raise Missing(key)
            return path.open("rb")
        except (FileNotFoundError, NotADirectoryError):
            raise Missing(key) from None

    def exists(self, key) -> bool:
        return self.path(key).is_file()

    def size(self, key) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise Missing(key) from None

    def delete(self, key) -> None:
        self.path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> list[str]:
        check_prefix(prefix)
        areas = set(self.areas) | ({p.name for p in self.root.iterdir() if p.is_dir()} if self.root.is_dir() else set())
        keys = []
        for area in sorted(areas):
            if not (f"{area}/".startswith(prefix) or prefix.startswith(f"{area}/")):
                continue
            folder = self._folder(area)
            if not folder.is_dir():
                continue
            for parent, dirs, names in os.walk(folder):
                dirs[:] = sorted(d for d in dirs if not (Path(parent) / d).is_symlink())
                for name in names:
                    path = Path(parent) / name
                    if name.endswith(".tmp") and name.startswith(".") or path.is_symlink() or not path.is_file():
                        continue
                    key = f"{area}/{path.relative_to(folder).as_posix()}"
                    if key.startswith(prefix):
                        try:
                            check_key(key)
                        except ValueError:
                            continue  # a stray file no key could name
                        keys.append(key)
        return sorted(keys)

    def probe(self) -> None:
        for area in ("attachments", "jobs"):  # the folders every web host and worker writes
            folder = self._folder(area)
            if not folder.is_dir():
                raise OSError(f"{_setting(area)} does not exist")
            try:
                with tempfile.NamedTemporaryFile(dir=folder, prefix=".readyz-") as probe:
                    probe.write(b"ok")
                    probe.flush()
            except OSError:
                raise OSError(f"{_setting(area)} is not writable") from None


def _setting(area: str) -> str:
    return {"attachments": "UPLOAD_FOLDER", "jobs": "JOB_RESULT_FOLDER", "backups": "BACKUP_FOLDER"}.get(
        area, "STORAGE_FOLDER")
