"""Who the log is sealed to: the processors' key (configured, or made once per machine) and
the auditor's, refused at start when they cannot work."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from intentcast.broker.log_keys import (
    LogKeyError,
    known_processors_key,
    log_readers,
    processors_key,
    read_key_file,
    write_key_file,
)
from intentcast.broker.settings import BrokerSettings
from intentcast.schemas import Reader, SealingKey
from intentcast.schemas.crypto import b64e


def _settings(tmp_path: Path, **kw: object) -> BrokerSettings:
    return BrokerSettings(datadir=str(tmp_path / "processors" / "app"), **kw)  # type: ignore[arg-type]


def test_one_machine_makes_its_key_once_and_keeps_it_private(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert settings.log_key_file == str(tmp_path / "processors" / "intentcast-processors.log-key")
    assert known_processors_key(settings) is None  # a reader never makes one
    first = processors_key(settings)
    assert processors_key(settings).public_key == first.public_key  # the file is kept
    assert known_processors_key(settings) is not None
    mode = stat.S_IMODE(Path(settings.log_key_file).stat().st_mode)
    assert mode == 0o600
    # a second worker with its own data folder next to the first shares the key
    sibling = BrokerSettings(datadir=str(tmp_path / "processors" / "second"))
    assert processors_key(sibling).public_key == first.public_key


def test_a_configured_key_wins_and_a_bad_one_says_what_to_do(tmp_path: Path) -> None:
    key = SealingKey.generate()
    settings = _settings(tmp_path, log_sealing_key=b64e(key.raw))
    assert processors_key(settings).public_key == key.public_key
    assert not Path(settings.log_key_file).exists()
    with pytest.raises(LogKeyError, match="intentcast audit keygen"):
        processors_key(_settings(tmp_path, log_sealing_key="not-a-key"))


def test_the_auditor_is_a_reader_only_when_configured(tmp_path: Path) -> None:
    customer = SealingKey.generate().public_key
    assert set(log_readers(_settings(tmp_path), customer=customer)) == {
        Reader.PROCESSORS, Reader.CUSTOMER,
    }  # fmt: skip
    auditor = SealingKey.generate().public_key
    readers = log_readers(_settings(tmp_path, auditor_public_key=auditor))
    assert readers[Reader.AUDITOR] == auditor
    with pytest.raises(ValidationError, match="auditor_public_key"):
        _settings(tmp_path, auditor_public_key="AAAA")


def test_key_files_are_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "auditor.key"
    made = write_key_file(path)
    assert read_key_file(path).public_key == made.public_key
    with pytest.raises(LogKeyError, match="exists"):
        write_key_file(path)
    with pytest.raises(LogKeyError, match="cannot read"):
        read_key_file(tmp_path / "missing.key")
