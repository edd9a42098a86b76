"""Where the daily drops live: a local folder or a ``gs://bucket/prefix``.

Google Cloud Storage is reached with google-cloud-storage, which honours
``STORAGE_EMULATOR_HOST`` (used by the tests and the dev cluster) and retries transient errors
of reads and listings with its default retry policy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from burger_recs.contract import DAY_FOLDER_PATTERN, DAY_FOLDER_PREFIX

if TYPE_CHECKING:
    from google.cloud import storage


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class NotAFileError(OSError):
    """A name that should be a file is something else (for example a folder)."""


@dataclass(frozen=True)
class DataRoot:
    """A data root: the folder that holds one ``date=YYYY-MM-DD`` folder per day."""

    uri: str

    @property
    def is_gcs(self) -> bool:
        """True for ``gs://`` roots."""
        return self.uri.startswith("gs://")

    def day_folders(self) -> dict[dt.date, str]:
        """Return every day folder under the root, by date, in date order.

        Raises:
            FileNotFoundError: the root does not exist or holds no day folders.

        """
        names = self._gcs_folders() if self.is_gcs else self._local_folders()
        days = {}
        for name in names:
            match = DAY_FOLDER_PATTERN.match(name)
            if match:
                try:
                    days[dt.date.fromisoformat(match.group(1))] = name
                except ValueError:
                    continue  # date=2026-02-31 is not a day; it is ignored like any other folder
        if not days:
            raise FileNotFoundError(
                f"no daily drops in {self.uri}: expected folders named "
                f"{DAY_FOLDER_PREFIX}YYYY-MM-DD holding orders.csv"
            )
        return dict(sorted(days.items()))

    def files(self, day: dt.date) -> list[str]:
        """Return the names of the entries in one day's folder (files and sub-folders)."""
        folder = f"{DAY_FOLDER_PREFIX}{day.isoformat()}"
        if self.is_gcs:
            prefix = f"{self._prefix}{folder}/"
            iterator = self._bucket.list_blobs(prefix=prefix, delimiter="/")
            names = [blob.name[len(prefix) :] for blob in iterator]
            names += [p[len(prefix) :].rstrip("/") for p in iterator.prefixes]
            return sorted(n for n in names if n)
        path = Path(self.uri) / folder
        return sorted(p.name for p in path.iterdir()) if path.is_dir() else []

    def location(self, day: dt.date, name: str) -> str:
        """Return the full URI of one file of a day's drop, for messages."""
        return f"{self.uri.rstrip('/')}/{DAY_FOLDER_PREFIX}{day.isoformat()}/{name}"

    def digests(self, day: dt.date) -> dict[str, str]:
        """Return a digest of the content of each file in one day's folder, by name.

        Local files are hashed (SHA-256). GCS objects are not downloaded: their digest is the
        MD5 the server keeps (``md5_hash``; for composite objects, which have none, the CRC32C
        and generation), so that a changed object always has a new digest. Sub-folders get
        the digest ``folder``.
        """
        folder = f"{DAY_FOLDER_PREFIX}{day.isoformat()}"
        if self.is_gcs:
            prefix = f"{self._prefix}{folder}/"
            iterator = self._bucket.list_blobs(prefix=prefix, delimiter="/")
            found = {
                blob.name[len(prefix) :]: blob.md5_hash or f"{blob.crc32c}:{blob.generation}"
                for blob in iterator
            }
            found |= {p[len(prefix) :].rstrip("/"): "folder" for p in iterator.prefixes}
            return {name: digest for name, digest in sorted(found.items()) if name}
        path = Path(self.uri) / folder
        if not path.is_dir():
            return {}
        return {
            entry.name: "folder" if entry.is_dir() else _sha256(entry)
            for entry in sorted(path.iterdir())
        }

    def read_bytes(self, day: dt.date, name: str) -> bytes:
        """Read one file of a day's drop.

        Raises:
            NotAFileError: the name is a folder, not a file.
            FileNotFoundError: there is no such file.

        """
        if self.is_gcs:
            from google.api_core.exceptions import NotFound

            if name in self.files(day) and not self._bucket.blob(self._key(day, name)).exists():
                raise NotAFileError(f"{self.location(day, name)} is a folder, not a file")
            try:
                return self._bucket.blob(self._key(day, name)).download_as_bytes()
            except NotFound:
                raise FileNotFoundError(f"{self.location(day, name)} does not exist") from None
        path = Path(self.location(day, name))
        if path.is_dir():
            raise NotAFileError(f"{path} is a folder, not a file")
        return path.read_bytes()

    # -- local folders ---------------------------------------------------------------------
    def _local_folders(self) -> list[str]:
        root = Path(self.uri)
        if not root.is_dir():
            raise FileNotFoundError(f"data folder {self.uri} does not exist")
        return [p.name for p in root.iterdir() if p.is_dir()]

    # -- Google Cloud Storage --------------------------------------------------------------
    @cached_property
    def _bucket(self) -> storage.Bucket:
        from google.cloud import storage  # imported lazily: local runs never need it

        bucket_name = self.uri[len("gs://") :].split("/", 1)[0]
        if not bucket_name:
            raise ValueError(f"{self.uri} names no bucket: expected gs://bucket[/prefix]")
        return storage.Client().bucket(bucket_name)

    @property
    def _prefix(self) -> str:
        parts = self.uri[len("gs://") :].split("/", 1)
        prefix = parts[1].strip("/") if len(parts) > 1 else ""
        return f"{prefix}/" if prefix else ""

    def _key(self, day: dt.date, name: str) -> str:
        return f"{self._prefix}{DAY_FOLDER_PREFIX}{day.isoformat()}/{name}"

    def _gcs_folders(self) -> list[str]:
        from google.api_core.exceptions import NotFound

        iterator = self._bucket.list_blobs(prefix=self._prefix, delimiter="/")
        try:
            list(iterator)  # the prefixes are known only once the pages have been read
        except NotFound:
            raise FileNotFoundError(
                f"data root {self.uri}: bucket {self._bucket.name} does not exist"
            ) from None
        return [p[len(self._prefix) :].rstrip("/") for p in iterator.prefixes]
