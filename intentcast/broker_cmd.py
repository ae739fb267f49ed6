"""`intentcast broker run`, `intentcast topics create` and `intentcast audit ...`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import tempfile
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson
import typer
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from intentcast.broker.audit import LogKeys, find_agreement, verify_kept, verify_log
from intentcast.broker.log_keys import (
    known_processors_key,
    processors_key,
    read_key_file,
    write_key_file,
)
from intentcast.broker.settings import BrokerSettings
from intentcast.broker.topic_admin import create_all
from intentcast.console import console, err_console
from intentcast.doctor import TopicProblem, quiet_kafka_client, topic_problems
from intentcast.logs import logging_config
from intentcast.schemas import Agreement, SchemaError, decode
from intentcast.schemas.crypto import SealingKey
from intentcast.schemas.log import recorded_hash

T = TypeVar("T")
broker_app = typer.Typer(help="Run the stream processors.", no_args_is_help=True)
topics_app = typer.Typer(help="Create the topic layout.", no_args_is_help=True)
audit_app = typer.Typer(help="Verify the agreement log and print receipts.", no_args_is_help=True)

BootstrapOpt = typer.Option(
    None,
    "--bootstrap",
    "-b",
    help="Kafka bootstrap servers (default: $INTENTCAST_BOOTSTRAP or 127.0.0.1:9092).",
)


def settings_for(bootstrap: str | None) -> BrokerSettings:
    settings = BrokerSettings()
    return settings.model_copy(update={"bootstrap": bootstrap}) if bootstrap else settings


# how long `broker run` waits for Kafka to answer before it says so and exits
CONNECT_TIMEOUT_S = 15.0
TOPIC_SETTLE_S = 8.0  # within CONNECT_TIMEOUT_S: a missing topic is asked for again this long


def one_line_error(sentence: str) -> typer.Exit:
    """One unwrapped line on stderr, then exit 1: a command that cannot work should say what to
    do, not leave a traceback (faust's in a JSON log line); a supervisor sees the status."""
    err_console.print(f"[bold red]error:[/] {escape(sentence)}", soft_wrap=True, highlight=False)
    return typer.Exit(1)


def no_kafka(where: str, exc: BaseException) -> typer.Exit:
    return one_line_error(
        f"no Kafka answers at {where} ({type(exc).__name__}): start one with "
        "`intentcast kafka start`, or point --bootstrap / INTENTCAST_BOOTSTRAP at a broker"
    )


def talk_to_kafka(settings: BrokerSettings, work: Coroutine[Any, Any, T]) -> T:
    """Run one conversation with Kafka; when it does not answer, one line and exit 1, where
    aiokafka would print its error log, a traceback and a warning about the unclosed client."""
    with quiet_kafka_client(), _quiet("asyncio"):
        try:
            return asyncio.run(work)
        except (KafkaConnectionError, KafkaTimeoutError, OSError) as exc:
            failure = no_kafka(settings.bootstrap, exc)
        except KafkaError as exc:  # it answered, and refused (not authorised, a bad config...)
            failure = one_line_error(
                f"Kafka at {settings.bootstrap} refused: {type(exc).__name__}: {exc}"
            )
        gc.collect()  # the failed client's "Unclosed" warning is logged here, while quiet
    raise failure


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    logger = logging.getLogger(name)
    before, logger.level = logger.level, logging.CRITICAL
    try:
        yield
    finally:
        logger.setLevel(before)


def prepare_datadir(settings: BrokerSettings) -> Path:
    """faust creates its data folder without parents, so a fresh machine crashed at start."""
    folder = Path(settings.datadir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise one_line_error(
            f"the processors cannot write their data folder {folder} "
            f"({exc.strerror or type(exc).__name__}): set INTENTCAST_DATADIR to a writable folder"
        ) from None
    return folder


async def _layout_problems(settings: BrokerSettings) -> list[TopicProblem]:
    """What is wrong with the topic layout, from one admin connection.

    A topic created a moment ago (`intentcast topics create` just before, a busy machine) may
    not be described yet by the broker that answers, so missing topics are asked for again for
    up to `TOPIC_SETTLE_S` before they count as missing; a wrong partition count is final.
    """
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        **settings.kafka_kwargs(), request_timeout_ms=int(CONNECT_TIMEOUT_S * 1000)
    )
    try:
        await admin.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TOPIC_SETTLE_S
        problems = await topic_problems(admin, settings)
        while any(p.found is None for p in problems) and loop.time() < deadline:
            await asyncio.sleep(0.5)
            problems = await topic_problems(admin, settings)
        return problems
    finally:
        await admin.close()


def _first_names(problems: list[TopicProblem]) -> str:
    more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
    return ", ".join(p.name for p in problems[:3]) + more


def check_kafka(settings: BrokerSettings) -> None:
    """Kafka answers and the topics the processors read and write exist, with the partitions
    they expect, before faust starts: faust retries a missing broker for ever, ignores a missing
    input topic, and offers would not meet their intents across other partition counts."""
    where = settings.bootstrap
    try:
        with quiet_kafka_client():
            problems = asyncio.run(asyncio.wait_for(_layout_problems(settings), CONNECT_TIMEOUT_S))
    except TimeoutError:
        raise one_line_error(
            f"Kafka at {where} did not answer within {CONNECT_TIMEOUT_S:.0f} s: check it with "
            "`intentcast kafka status`, or point --bootstrap / INTENTCAST_BOOTSTRAP at a broker"
        ) from None
    except Exception as exc:
        raise no_kafka(where, exc) from None
    missing = [p for p in problems if p.found is None]
    if missing:
        raise one_line_error(
            f"topics missing on {where} ({_first_names(missing)}): create them with "
            "`intentcast topics create`"
        )
    if problems:
        first = problems[0]
        raise one_line_error(
            f"topics on {where} have {first.found} partitions where the processors expect "
            f"{first.expected} ({_first_names(problems)}): set INTENTCAST_PARTITIONS to "
            f"{first.found}, or recreate the topics"
        )


@broker_app.command("run")
def run(
    bootstrap: str = BootstrapOpt,
    log_level: str = typer.Option("warn", help="debug, info, warn or error."),
) -> None:
    """Start the processors (intake, offers, acceptances, cancels, expiry, profiles).

    Their data folder (faust's, and the quarantine file after an undecodable batch) is
    $INTENTCAST_DATADIR, by default ~/.local/state/intentcast/processors/<app id> (under
    $XDG_STATE_HOME when set). Exits 1 with one line saying what to do when Kafka does not
    answer, the topics are missing or the folder is not writable.
    """
    settings = settings_for(bootstrap).model_copy(update={"log_level": log_level})
    folder = prepare_datadir(settings)
    processors_key(settings)  # a bad log key is one line now, not a crash at the first agreement
    check_kafka(settings)
    from intentcast.broker.worker import run_worker

    console.print(
        f"processors [bold]{settings.app_id}[/] on {settings.bootstrap}; "
        f"data in {folder}; Ctrl-C stops",
        soft_wrap=True,
    )
    run_worker(settings, logging_config(settings.log_level))  # JSON lines on stderr


@topics_app.command("create")
def create(
    bootstrap: str = BootstrapOpt,
    vendor: list[str] = typer.Option([], "--vendor", help="Also create this vendor's topics."),
    market: list[str] = typer.Option([], "--market", help="Extra market topic to create."),
) -> None:
    """Create every missing topic (idempotent; existing topics are left as they are)."""
    settings = settings_for(bootstrap)
    created = talk_to_kafka(settings, create_all(settings, vendors=vendor, markets=market))
    if created:
        console.print(f"created {len(created)} topics: " + ", ".join(created))
    else:
        console.print("all topics already exist")


KeyFileOpt = typer.Option(
    [],
    "--key",
    help="A file holding a private X25519 key the log is sealed to (the auditor's, from "
    "`intentcast audit keygen`); entries it opens are verified in full. Repeatable.",
)
WalletOpt = typer.Option(
    None, "--wallet", help="Also open your own agreements with this wallet's intent keys."
)


def audit_keys(settings: BrokerSettings, key_files: list[Path], wallet: Path | None) -> LogKeys:
    """The keys this reader holds: the processors' when this machine runs them, the key files
    given, and a customer's intent keys when a wallet is named."""
    keys = [read_key_file(path) for path in key_files]
    own = known_processors_key(settings)
    keys += [own] if own is not None else []
    if wallet is None:
        return LogKeys(tuple(keys))
    from intentcast.agents import Wallet

    kept = Wallet(wallet)

    def intent_key(intent_id: str) -> SealingKey | None:
        found = kept.keys(intent_id)
        return found.sealing if found is not None else None

    return LogKeys(tuple(keys), intent_key)


@audit_app.command("verify")
def verify(
    bootstrap: str = BootstrapOpt,
    key: list[Path] = KeyFileOpt,
    wallet: Path | None = WalletOpt,
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Replay the agreement log and check every link; open what your keys open. Exit 1 on a break.

    Anyone may check the chain (order, ids, no gap, no edit); with a key, every entry it
    opens is verified in full (both signatures, the terms).

    On the processors' machine their key is used; an auditor passes `--key`, a customer
    `--wallet`. Entries no key opens are still checked as links of the chain.
    """
    settings = settings_for(bootstrap)
    keys = audit_keys(settings, key, wallet)
    with Progress(console=console, transient=True, disable=json_out) as progress:
        task = progress.add_task("verifying the agreement log", total=None)
        result = talk_to_kafka(
            settings,
            verify_log(
                settings,
                lambda done, total: progress.update(task, completed=done, total=total),
                keys,
            ),
        )
    first = result.first_break
    if json_out:
        console.print_json(
            orjson.dumps(
                {
                    "verified": result.verified,
                    "agreements": result.agreements,
                    "opened": result.opened,
                    "sealed": result.sealed,
                    "ok": result.ok,
                    "breaks": [b.__dict__ for b in result.breaks],
                }
            ).decode()
        )
    elif result.ok:
        opened = (
            f"{result.opened} opened and verified"
            if result.opened
            else "none opened (no key given: hashes and links only)"
        )
        console.print(
            f"[green]audit ok[/]: {result.agreements} agreements verified as links of the "
            f"chain, {result.verified} entries across {len(result.per_partition)} partitions; "
            f"{opened}",
            soft_wrap=True,
        )
    else:
        assert first is not None
        console.print(
            f"[red]audit FAILED[/]: {result.verified} verified; first break at "
            f"partition {first.partition} offset {first.offset}: {first.problem}"
        )
        for extra in (b for b in result.breaks if b is not first):
            console.print(
                f"  also partition {extra.partition} offset {extra.offset}: {extra.problem}"
            )
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("receipt")
def receipt(
    agreement_id: str = typer.Argument(..., help="Agreement id (or a unique prefix)."),
    bootstrap: str = BootstrapOpt,
    key: list[Path] = KeyFileOpt,
    wallet: Path | None = typer.Option(
        None, "--wallet", help="Your wallet (default: the default wallet, when it exists)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the Kantara-style JSON only."),
) -> None:
    """Print the consent receipt both sides can keep for one agreement.

    The log holds the agreement sealed: it is opened with the processors' key on their
    machine, an auditor's `--key`, or the intent key in your wallet.
    """
    settings = settings_for(bootstrap)
    from intentcast.agents import default_wallet_path

    if wallet is None and default_wallet_path().exists():
        wallet = default_wallet_path()
    keys = audit_keys(settings, key, wallet)
    entry, agreement = talk_to_kafka(settings, find_agreement(settings, agreement_id, keys))
    if entry is None:
        raise one_line_error(
            f"no agreement {agreement_id!r} in the log: `intentcast audit verify` counts them"
        )
    if agreement is None:
        raise one_line_error(
            f"agreement {recorded_hash(entry)[:16]} is in the log, sealed to its parties: open it "
            "with --wallet (the customer's), --key (the auditor's) or on the processors' machine"
        )
    rec = agreement.receipt()
    if json_out:
        console.print_json(orjson.dumps(rec.to_kantara()).decode())
        return
    table = Table(title=f"Receipt for agreement {agreement.agreement_id[:16]}…", show_header=False)
    for k, v in rec.to_kantara().items():
        table.add_row(str(k), orjson.dumps(v).decode() if not isinstance(v, str) else v)
    console.print(table)


@audit_app.command("kept")
def kept(
    path: Path = typer.Argument(
        ...,
        help="A kept agreement: the vendor's copy (Agreement JSON) or a receipt from "
        "`intentcast intent export`/the wallet (JSON with an `agreement` field).",
    ),
    bootstrap: str = BootstrapOpt,
) -> None:
    """Check an agreement you kept against the log, with no key.

    It must verify on its own, an entry of the log must record its hash, and the chain must be
    intact from the partition's start up to that entry. Exit 1 otherwise.
    """
    settings = settings_for(bootstrap)
    agreement = kept_agreement(path)
    result = talk_to_kafka(settings, verify_kept(settings, agreement))
    if not result.ok:
        raise one_line_error(
            f"agreement {agreement.agreement_id[:16]} does not check against the log: "
            f"{result.problem}"
        )
    assert result.entry is not None
    console.print(
        f"[green]kept agreement ok[/]: {agreement.agreement_id[:16]} is entry "
        f"{result.entry.seq} of partition {result.entry.partition}, chain intact over "
        f"{result.chained} entries",
        soft_wrap=True,
    )


def kept_agreement(path: Path) -> Agreement:
    """The agreement in a file a party kept, in either form it is kept in."""
    try:
        data = orjson.loads(path.read_bytes())
        text = data["agreement"] if isinstance(data, dict) and "agreement" in data else data
        raw = text.encode() if isinstance(text, str) else orjson.dumps(text)
        return decode(Agreement, raw)
    except OSError as exc:
        raise one_line_error(f"cannot read {path} ({exc.strerror})") from None
    except (orjson.JSONDecodeError, SchemaError) as exc:
        raise one_line_error(f"{path} holds no agreement ({exc})") from None


@audit_app.command("keygen")
def keygen(
    path: Path = typer.Argument(..., help="New file for the private key (never overwritten)."),
) -> None:
    """Make an X25519 key pair for reading the agreement log.

    For an auditor: keep the file for `--key`, give the operator the public key for
    INTENTCAST_AUDITOR_PUBLIC_KEY. For the processors: the file's content is
    INTENTCAST_LOG_SEALING_KEY.
    """
    made = write_key_file(path)
    console.print(f"private key written to {path} (keep it secret)")
    console.print(f"public key: {made.public_key}", soft_wrap=True, highlight=False)
