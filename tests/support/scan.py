"""Credential patterns, and a scanner for files, folders and text.

What counts as a leaked credential:

- a URL with a password in it (``scheme://user:password@host``), unless the password is
  shown hidden (``***``, as :func:`burger_recs.db.redact` writes it);
- a ``password=...`` pair of a libpq connection string, or a value given to a variable or
  key named like a secret (``POSTGRES_PASSWORD=...``, ``API_TOKEN: ...``), unless it is a
  reference (``$VAR``, ``${VAR}``, ``$(VAR)``);
- a PEM private key (the BEGIN line followed by key material, not just the words);
- any of the literal secrets a test used (the database passwords of the run).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

URL_WITH_PASSWORD = re.compile(
    r"\b[a-z][a-z0-9+.\-]*://[^\s/:@'\"<>]+:(?P<password>[^\s@/'\"<>]+)@", re.IGNORECASE
)
CONNINFO_PASSWORD = re.compile(r"\bpassword\s*=\s*(?P<password>[^\s&;'\",)]+)", re.IGNORECASE)
SECRET_VARIABLE = re.compile(
    r"\b[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY)[A-Z0-9_]*\s*[=:]\s*['\"]?"
    r"(?P<password>[^\s'\"$]+)"
)
PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----\s*(?:[A-Za-z-]+:[^\n]*\n)*\s*"
    r"[A-Za-z0-9+/=]{40}"
)
HIDDEN = {"***", "%2A%2A%2A", "%2a%2a%2a"}
# Larger files are read in part: logs and artifacts of the tests' runs are far smaller.
MAX_BYTES = 50_000_000


def secret_values(text: str) -> set[str]:
    """Return the passwords and secret values that ``text`` gives away."""
    return {
        match.group("password")
        for pattern in (URL_WITH_PASSWORD, CONNINFO_PASSWORD, SECRET_VARIABLE)
        for match in pattern.finditer(text)
        if match.group("password") not in HIDDEN
    }


def findings(text: str, secrets: Iterable[str] = ()) -> list[str]:
    """Return every credential-like match in ``text`` (empty when there is none)."""
    found = []
    for pattern in (URL_WITH_PASSWORD, CONNINFO_PASSWORD, SECRET_VARIABLE):
        for match in pattern.finditer(text):
            if match.group("password") not in HIDDEN:
                found.append(match.group(0))
    found += [m.group(0)[:40] + "..." for m in PRIVATE_KEY.finditer(text)]
    found += [f"the secret {s[:2]}...{s[-2:]}" for s in secrets if s and s in text]
    return found


def scan_text(where: str, text: str, secrets: Iterable[str] = ()) -> dict[str, list[str]]:
    """Return ``{where: findings}`` when the text holds a credential, else ``{}``."""
    found = findings(text, secrets)
    return {where: found} if found else {}


def scan_paths(paths: Iterable[Path], secrets: Iterable[str] = ()) -> tuple[int, dict]:
    """Scan files and every file under folders (bytes read as Latin-1, so nothing is skipped).

    Returns:
        How many files were scanned, and ``{file: findings}`` for the files with findings.
    """
    secrets = list(secrets)
    scanned, leaks = 0, {}
    for path in paths:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            with file.open("rb") as handle:
                text = handle.read(MAX_BYTES).decode("latin-1")
            scanned += 1
            leaks |= scan_text(str(file), text, secrets)
    return scanned, leaks
