"""Who the agreement log's entries are sealed to: the processors' own key pair, and the auditor.

The processors' key is configured (`INTENTCAST_LOG_SEALING_KEY`) wherever more than one machine
runs workers: every worker must open every entry to rebuild a partition's chain after a
rebalance. On one machine, a key is generated once into `log_key_file`, created without a race
(the first writer wins, the others read it), readable by its owner only.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from intentcast.broker.settings import BrokerSettings
from intentcast.schemas.crypto import SealingKey, b64d, b64e
from intentcast.schemas.errors import IntentcastError, SchemaError
from intentcast.schemas.log import Reader


class LogKeyError(IntentcastError):
    """The processors' log key is unusable; the message says which setting to fix."""


def processors_key(settings: BrokerSettings) -> SealingKey:
    """The processors' X25519 key for the log: the configured one, else the machine's own."""
    if settings.log_sealing_key is not None:
        return _parse(settings.log_sealing_key.get_secret_value(), "INTENTCAST_LOG_SEALING_KEY")
    path = Path(settings.log_key_file)
    if not path.exists():
        _create(path)
    return _parse(path.read_text().strip(), str(path))


def known_processors_key(settings: BrokerSettings) -> SealingKey | None:
    """The processors' key when this machine has it (configured, or its key file exists);
    never creates one, so a reader elsewhere is not handed a key that opens nothing."""
    if settings.log_sealing_key is None and not Path(settings.log_key_file).exists():
        return None
    return processors_key(settings)


def read_key_file(path: Path) -> SealingKey:
    """A private X25519 key kept in a file as base64url (what `intentcast audit keygen` writes)."""
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise LogKeyError(f"cannot read the key file {path} ({exc.strerror})") from None
    return _parse(text, str(path))


def write_key_file(path: Path) -> SealingKey:
    """A new private X25519 key in a new file readable by its owner only."""
    key = SealingKey.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise LogKeyError(
            f"{path} exists: choose another file, a key is never overwritten"
        ) from None
    except OSError as exc:
        raise LogKeyError(f"cannot create the key file {path} ({exc.strerror})") from None
    with os.fdopen(fd, "w") as out:
        out.write(b64e(key.raw) + "\n")
    return key


def log_readers(settings: BrokerSettings, **extra: str) -> dict[Reader, str]:
    """Every reader an entry is sealed to: the processors, the auditor when configured, and
    ``extra`` (role name -> X25519 public key, e.g. ``customer=intent.sealing_key``)."""
    readers = {Reader.PROCESSORS: processors_key(settings).public_key}
    if settings.auditor_public_key:
        readers[Reader.AUDITOR] = settings.auditor_public_key
    readers.update({Reader(role): key for role, key in extra.items()})
    return readers


def _parse(text: str, where: str) -> SealingKey:
    try:
        return SealingKey.from_bytes(b64d(text))
    except SchemaError as exc:
        raise LogKeyError(
            f"{where} is not a base64url X25519 private key ({exc.detail}); "
            "make one with `intentcast audit keygen FILE` and give the file's content"
        ) from None


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".log-key-")
    try:
        os.write(fd, (b64e(SealingKey.generate().raw) + "\n").encode())
        os.close(fd)
        os.chmod(tmp, 0o600)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # atomic, and never replaces a key another worker made
    finally:
        os.unlink(tmp)
