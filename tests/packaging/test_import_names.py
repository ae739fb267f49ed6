"""The installed import names are `intentcast.*` only.

`broker`, `agents`, `schemas`, `kafkaio`, `examples` and `bench` are generic names that other
distributions on PyPI install too (`schemas`, `agents` and `broker` all exist there), so the
top-level folders are installed as `intentcast.broker`, ... through the links in `intentcast/`,
and nothing may import them by their folder names: in a checkout that would load a second copy
of every module beside the `intentcast.*` one.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("broker", "agents", "schemas", "kafkaio", "examples", "bench")
BARE_IMPORT = re.compile(rf"^\s*(?:from|import)\s+(?:{'|'.join(FOLDERS)})(?:\.|\s|$)", re.M)


def _tracked_python_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [ROOT / name for name in out if not (ROOT / name).is_symlink()]


def test_no_module_imports_a_folder_by_its_bare_name() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, match.start()) + 1}"
        for path in _tracked_python_files()
        for text in [path.read_text(encoding="utf-8")]
        for match in BARE_IMPORT.finditer(text)
    ]
    assert offenders == [], f"import these as intentcast.<folder>: {offenders}"


def test_each_folder_is_linked_into_the_intentcast_package() -> None:
    for folder in FOLDERS:
        link = ROOT / "intentcast" / folder
        assert link.is_symlink(), f"intentcast/{folder} should link to ../{folder}"
        assert link.resolve() == (ROOT / folder).resolve()
        assert (link / "__init__.py").is_file()


def test_the_package_finder_installs_only_intentcast_names() -> None:
    """What setuptools will put in the wheel, from the same configuration it reads."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["tool"]["setuptools"]["packages"]["find"]["include"] == ["intentcast*"]
    from setuptools import find_packages  # type: ignore[import-untyped]

    found = set(find_packages(str(ROOT), include=["intentcast*"]))
    assert {f"intentcast.{folder}" for folder in FOLDERS} <= found
    assert "intentcast.broker.runtime" in found  # a package, not a namespace the finder skips
    assert not any(name.split(".")[0] in FOLDERS for name in found)


def test_one_partitioner_serves_the_processors_and_the_sdk() -> None:
    """The contract's murmur2 (schemas.partitioning) is the only one: two copies could drift,
    and an offer would then miss its intent's partition."""
    import intentcast.broker.intent_store as intent_store
    import intentcast.broker.outputs as outputs
    from intentcast.schemas import partitioning

    for module in (outputs, intent_store):  # the name each imports, not a copy of its own
        assert vars(module)["key_partition"] is partitioning.key_partition
    product = [p for p in _tracked_python_files() if p.relative_to(ROOT).parts[0] in FOLDERS]
    copies = [
        str(p.relative_to(ROOT))
        for p in product
        if {"0x5BD1E995", "aiokafka.partitioner"}
        & set(re.findall(r"0x5BD1E995|aiokafka\.partitioner", p.read_text(encoding="utf-8")))
    ]
    assert copies == ["schemas/partitioning.py"], "murmur2 lives in schemas/partitioning.py only"


def test_the_layering_contracts_cover_every_product_package() -> None:
    """`make lint` runs lint-imports on these contracts; a package missing from them would
    be free to import anything."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    [layers] = [c for c in contracts if c["type"] == "layers"]
    assert layers["layers"] == ["agents | broker", "kafkaio", "schemas"]
    assert "lint-imports" in (ROOT / "Makefile").read_text(encoding="utf-8")
