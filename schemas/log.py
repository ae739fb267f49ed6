"""The public agreement log: a hash chain anyone may check, whose content only its readers open.

Each record of ``intentcast.agreements`` is a :class:`LogEntry`. In clear it holds only what the
chain needs (partition, seq, prev_hash, its own id), the intent it is about, its type, the hash
of its content and the time. The content (an :class:`Agreement`, or another entry type's model)
is encrypted once with a fresh XSalsa20-Poly1305 key, and that key is sealed (an X25519 sealed
box) to each reader allowed to read it: the customer, the processors and, when configured, the
auditor. Sealing the key rather than the content keeps an entry one content's size whatever the
number of readers. A reader opens its copy with its own key and checks the content hash; anyone
else can still check order, hashes, gaps and edits, with no key at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any, Final, Generic, Literal, TypeVar

import nacl.exceptions
import nacl.secret
import nacl.utils
from pydantic import BaseModel, Field, StringConstraints, model_validator

from intentcast.schemas.agreement import GENESIS_HASH, Agreement, ChainPartition, ChainSeq
from intentcast.schemas.base import Message, WireModel
from intentcast.schemas.canonical import canonical_json, decode, encode, sha256_hex
from intentcast.schemas.canonical import content_hash as model_hash
from intentcast.schemas.crypto import SealingKey, b64d, b64e, seal
from intentcast.schemas.disclosure import DisclosureRecord
from intentcast.schemas.errors import SchemaError
from intentcast.schemas.fields import B64URL_PATTERN, Hex64, MessageId, PublicKey
from intentcast.schemas.reasons import ReasonCode
from intentcast.schemas.retention import RetentionAttestation
from intentcast.schemas.timeutil import UtcDateTime

__all__ = [
    "AGREEMENT_ENTRY",
    "DISCLOSURE_ENTRY",
    "ENTRY_KINDS",
    "RETENTION_ATTESTATION_ENTRY",
    "ChainCheck",
    "EntryKind",
    "EntryType",
    "Link",
    "LogEntry",
    "Reader",
    "SealedKey",
    "check_chain",
    "decode_link",
    "is_agreement",
    "link_id",
    "link_intent",
    "link_problem",
    "locate",
    "recorded_hash",
]

M = TypeVar("M", bound=BaseModel)

_Sealed = Annotated[str, StringConstraints(pattern=f"^{B64URL_PATTERN}$", max_length=128)]
_Ciphertext = Annotated[
    str, StringConstraints(pattern=f"^{B64URL_PATTERN}$", min_length=1, max_length=60_000)
]
CONTENT_KEY_BYTES: Final = nacl.secret.SecretBox.KEY_SIZE
NONCE_BYTES: Final = nacl.secret.SecretBox.NONCE_SIZE


class EntryType(StrEnum):
    """What an entry's content is; each has one :class:`EntryKind` in :data:`ENTRY_KINDS`."""

    AGREEMENT = "agreement"
    RETENTION_ATTESTATION = "retention_attestation"
    DISCLOSURE = "disclosure"


class Reader(StrEnum):
    """Who an entry's content key is sealed to. Vendors are not readers: each reads its own
    clear copy on its private topic and checks it against the log by the content hash."""

    CUSTOMER = "customer"
    PROCESSORS = "processors"
    AUDITOR = "auditor"


class SealedKey(WireModel):
    """The entry's content key, sealed to one reader's X25519 public key."""

    reader: Reader
    public_key: PublicKey = Field(description="The X25519 key the content key is sealed to.")
    sealed: _Sealed = Field(description="crypto_box_seal of the 32-byte content key.")


class LogEntry(Message):
    """One link of a partition's chain; its content is readable only by ``readers``.

    ``entry_id`` is the SHA-256 of the canonical entry without it; ``prev_hash`` is the previous
    entry's ``entry_id`` in the same partition (:data:`GENESIS_HASH` for seq 0). ``ciphertext``
    is ``nonce || secretbox(content)`` under the content key, the content being the canonical
    bytes of the entry type's model, whose hash is ``content_hash``.
    """

    kind: Literal["log_entry"] = "log_entry"
    entry_id: Hex64
    partition: ChainPartition
    seq: ChainSeq
    prev_hash: Hex64
    intent_id: MessageId
    entry_type: EntryType
    content_hash: Hex64 = Field(description="For an agreement entry, its agreement_id.")
    recorded_at: UtcDateTime
    readers: tuple[SealedKey, ...] = Field(min_length=1, max_length=4)
    ciphertext: _Ciphertext

    @model_validator(mode="after")
    def _one_key_per_reader(self) -> LogEntry:
        roles = [copy.reader for copy in self.readers]
        if len(set(roles)) != len(roles):
            raise ValueError("a reader appears twice")
        return self

    @classmethod
    def build(
        cls,
        *,
        partition: int,
        seq: int,
        prev_hash: str,
        intent_id: str,
        entry_type: EntryType,
        content_hash: str,
        content: bytes,
        readers: Mapping[Reader, str],
        recorded_at: datetime,
        sealer: Callable[[str, bytes], str] = seal,
        content_key: bytes | None = None,
        nonce: bytes | None = None,
    ) -> LogEntry:
        """Encrypt ``content`` for ``readers`` (role -> X25519 public key) and compute the id.

        ``sealer``, ``content_key`` and ``nonce`` are fixed only by the test vectors; real
        entries take fresh random ones.
        """
        key = content_key if content_key is not None else nacl.utils.random(CONTENT_KEY_BYTES)
        box = nacl.secret.SecretBox(key)
        ciphertext = bytes(box.encrypt(content, nonce or nacl.utils.random(NONCE_BYTES)))
        draft = cls(
            entry_id=GENESIS_HASH,
            partition=partition,
            seq=seq,
            prev_hash=prev_hash,
            intent_id=intent_id,
            entry_type=entry_type,
            content_hash=content_hash,
            recorded_at=recorded_at,
            readers=tuple(
                SealedKey(reader=role, public_key=public, sealed=sealer(public, key))
                for role, public in sorted(readers.items())
            ),
            ciphertext=b64e(ciphertext),
        )
        return draft.model_copy(update={"entry_id": draft.computed_id()})

    def computed_id(self) -> str:
        """SHA-256 of the canonical entry without ``entry_id``."""
        fields = self.model_dump(mode="json", exclude={"entry_id"}, exclude_none=True)
        return sha256_hex(canonical_json(fields))

    def verify_id(self) -> None:
        """Raise :class:`SchemaError` unless the entry is unedited and seq 0 starts a chain."""
        if self.computed_id() != self.entry_id:
            raise SchemaError(ReasonCode.SCHEMA_INVALID, "entry_id does not match the entry")
        if self.seq == 0 and self.prev_hash != GENESIS_HASH:
            raise SchemaError(ReasonCode.SCHEMA_INVALID, "seq 0 must link to GENESIS_HASH")

    def sealed_to(self, public_key: str) -> SealedKey | None:
        """This reader's sealed content key, if the entry has one for ``public_key``."""
        return next((copy for copy in self.readers if copy.public_key == public_key), None)

    def open_bytes(self, key: SealingKey) -> bytes:
        """The content as recorded, opened with a reader's key; :class:`SchemaError` if the
        entry holds no copy for that key or the ciphertext was changed."""
        copy = self.sealed_to(key.public_key)
        if copy is None:
            raise SchemaError(ReasonCode.SCHEMA_INVALID, "the entry is not sealed to this key")
        content_key = key.open(copy.sealed)
        raw = b64d(self.ciphertext)
        try:
            return bytes(nacl.secret.SecretBox(content_key).decrypt(raw))
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise SchemaError(ReasonCode.SCHEMA_INVALID, "cannot decrypt the entry") from None

    def open(self, kind: EntryKind[M], key: SealingKey) -> M:
        """The content, opened with a reader's key and checked against this entry: type,
        content hash, intent, and whatever the entry type binds to its link."""
        if self.entry_type is not kind.entry_type:
            raise SchemaError(ReasonCode.SCHEMA_INVALID, f"entry is a {self.entry_type} entry")
        content = decode(kind.model, self.open_bytes(key))
        kind.check(content, self)
        return content


@dataclass(frozen=True)
class EntryKind(Generic[M]):
    """How one entry type's content is hashed and bound to the entry that carries it.

    ``hash_of`` gives the ``content_hash`` (a party recomputes it from the copy it keeps),
    ``intent_of`` the intent it belongs to (the record key), and ``bind`` any further check
    that the content agrees with its link (an agreement repeats partition, seq and prev_hash).
    """

    entry_type: EntryType
    model: type[M]
    hash_of: Callable[[M], str]
    intent_of: Callable[[M], str]
    bind: Callable[[M, LogEntry], str | None] = lambda _content, _entry: None

    def check(self, content: M, entry: LogEntry) -> None:
        """Raise :class:`SchemaError` unless ``content`` is what ``entry`` records."""
        if self.hash_of(content) != entry.content_hash:
            raise SchemaError(ReasonCode.SCHEMA_INVALID, "content does not match content_hash")
        if self.intent_of(content) != entry.intent_id:
            raise SchemaError(ReasonCode.SCHEMA_INVALID, "content names another intent")
        problem = self.bind(content, entry)
        if problem is not None:
            raise SchemaError(ReasonCode.SCHEMA_INVALID, problem)

    def entry(
        self,
        content: M,
        *,
        partition: int,
        seq: int,
        prev_hash: str,
        readers: Mapping[Reader, str],
        recorded_at: datetime,
        **fixed: Any,
    ) -> LogEntry:
        """The entry that chains ``content`` after (``seq`` - 1, ``prev_hash``), sealed to
        ``readers``; checked, so a content not bound to its link fails here, not in an audit.
        ``fixed`` passes the vectors' fixed randomness to :meth:`LogEntry.build`."""
        entry = LogEntry.build(
            partition=partition,
            seq=seq,
            prev_hash=prev_hash,
            intent_id=self.intent_of(content),
            entry_type=self.entry_type,
            content_hash=self.hash_of(content),
            content=encode(content),
            readers=readers,
            recorded_at=recorded_at,
            **fixed,
        )
        self.check(content, entry)
        return entry


def _agreement_bound(agreement: Agreement, entry: LogEntry) -> str | None:
    link = (agreement.partition, agreement.seq, agreement.prev_hash)
    if link != (entry.partition, entry.seq, entry.prev_hash):
        return "agreement's partition, seq or prev_hash differ from its entry's"
    return None


AGREEMENT_ENTRY: Final = EntryKind(
    EntryType.AGREEMENT,
    Agreement,
    hash_of=lambda agreement: agreement.agreement_id,
    intent_of=lambda agreement: agreement.intent.intent_id,
    bind=_agreement_bound,
)

RETENTION_ATTESTATION_ENTRY: Final = EntryKind(
    EntryType.RETENTION_ATTESTATION,
    RetentionAttestation,
    hash_of=model_hash,  # the signed statement exactly as the vendor sent it
    intent_of=lambda attestation: attestation.intent_id,
)

DISCLOSURE_ENTRY: Final = EntryKind(
    EntryType.DISCLOSURE,
    DisclosureRecord,
    hash_of=lambda record: record.disclosure_hash,
    intent_of=lambda record: record.intent_id,
)
"""A disclosure: its hash (which both parties can recompute), field names and time."""

ENTRY_KINDS: Final[Mapping[EntryType, EntryKind[Any]]] = MappingProxyType(
    {
        kind.entry_type: kind
        for kind in (AGREEMENT_ENTRY, RETENTION_ATTESTATION_ENTRY, DISCLOSURE_ENTRY)
    }
)
"""Every entry type and how its content is checked."""


Link = LogEntry | Agreement
"""A record of the log: an entry, or an agreement in clear, as the log held before entries (a
legacy link: its id is its ``agreement_id``, which the first entry after it links to)."""


def decode_link(data: bytes) -> Link:
    """A log record as an entry, else as a legacy agreement; the entry's error if neither."""
    try:
        return decode(LogEntry, data)
    except SchemaError as exc:
        try:
            return decode(Agreement, data)
        except SchemaError:
            raise exc from None


def link_id(link: Link) -> str:
    """What the next link's ``prev_hash`` names."""
    return link.entry_id if isinstance(link, LogEntry) else link.agreement_id


def link_intent(link: Link) -> str:
    return link.intent_id if isinstance(link, LogEntry) else link.intent.intent_id


def is_agreement(link: Link) -> bool:
    """Whether the link records an agreement (an agreement entry, or a legacy agreement)."""
    return isinstance(link, Agreement) or link.entry_type is EntryType.AGREEMENT


def recorded_hash(link: Link) -> str:
    """The hash of what the link records: an entry's content hash, a legacy agreement's id."""
    return link.content_hash if isinstance(link, LogEntry) else link.agreement_id


def link_problem(link: Link, partition: int, seq: int, head: str) -> str | None:
    """Why ``link`` cannot follow a partition's chain whose last link is (``seq``, ``head``),
    or None: the checks anyone can make without a key (a legacy agreement, in clear, is
    verified in full)."""
    try:
        if isinstance(link, LogEntry):
            link.verify_id()
        else:
            link.verify()
    except SchemaError as exc:
        return f"entry {link_id(link)[:12]} does not verify: {exc.detail}"
    if link.partition != partition:
        return f"entry says partition {link.partition}"
    if link.seq != seq + 1:
        return f"seq {link.seq} follows seq {seq}"
    if link.prev_hash != head:
        return "prev_hash does not match the previous entry (chain broken)"
    return None


@dataclass
class ChainCheck:
    """One partition's chain, checked link by link; ``problem`` is the first break."""

    partition: int
    seq: int = -1
    head: str = GENESIS_HASH
    entries: int = 0
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None

    def add(self, entry: Link) -> bool:
        """Take the next link; False (and ``problem`` set) once the chain is broken."""
        if self.problem is not None:
            return False
        self.problem = link_problem(entry, self.partition, self.seq, self.head)
        if self.problem is not None:
            return False
        self.seq, self.head = entry.seq, link_id(entry)
        self.entries += 1
        return True


def check_chain(partition: int, entries: Iterable[Link]) -> ChainCheck:
    """Check a partition's entries in log order, from its first."""
    check = ChainCheck(partition)
    for entry in entries:
        if not check.add(entry):
            break
    return check


def locate(
    partition: int, entries: Iterable[Link | None], content_hash: str
) -> tuple[Link | None, ChainCheck]:
    """Walk a partition's entries in log order (None: a record that is no entry) until the one
    recording ``content_hash``; return it (or None) and the chain check up to it. A party that
    kept its content finds its own entry this way, with no key."""
    check = ChainCheck(partition)
    for entry in entries:
        if entry is None:
            check.problem = "a record of the partition is not a log entry"
        if entry is None or not check.add(entry):
            return None, check
        if recorded_hash(entry) == content_hash:
            return entry, check
    return None, check
