"""`intentcast vendor run` finds a vendor by a shipped example's name, a module path or a file.

A wheel user has no examples/ folder, so `vendor run acme` must work from the package alone;
a vendor written as part of one's own package runs by its dotted name; a file path still works.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from intentcast.vendor_cmd import SHIPPED, load_vendor, resolve_vendor_module

ROOT = Path(__file__).resolve().parents[2]

VENDOR_MODULE = """
from intentcast.agents import Vendor
from intentcast.schemas.crypto import SigningKey

vendor = Vendor("{vendor_id}", key=SigningKey.generate(), markets=["bikes"], accepts=["SD-BASE"])
"""


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    """The failure message as one line (rich wraps it at the console width)."""
    return " ".join(capsys.readouterr().err.split())


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A vendor package `mypkg_<token>.myvendor` in a temporary folder, made the current one;
    sys.path and sys.modules are as before afterwards."""
    name = f"mypkg_{secrets.token_hex(4)}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / name / "myvendor.py").write_text(VENDOR_MODULE.format(vendor_id="my-vendor"))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)
    yield name
    for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
        del sys.modules[module]


@pytest.mark.parametrize(
    ("name", "vendor_id"),
    [("acme", "acme-bikes"), ("careful", "careful-cycles"), ("premium", "premium-wheels")],
)
def test_a_shipped_example_runs_by_name(name: str, vendor_id: str) -> None:
    assert resolve_vendor_module(name) == f"intentcast.examples.{name}"
    assert load_vendor(name).vendor_id == vendor_id


def test_the_shipped_names_are_the_demo_vendors() -> None:
    assert set(SHIPPED) == {"acme", "careful", "premium"}


def test_a_module_path_imports_that_module(package: str) -> None:
    """Found in the current folder without installing it, as `python -m` would."""
    assert resolve_vendor_module(f"{package}.myvendor") == f"{package}.myvendor"
    assert load_vendor(f"{package}.myvendor").vendor_id == "my-vendor"
    assert load_vendor("intentcast.examples.premium").vendor_id == "premium-wheels"


def test_a_file_path_still_works(tmp_path: Path) -> None:
    assert load_vendor(ROOT / "examples" / "acme.py").vendor_id == "acme-bikes"
    own = tmp_path / "own_vendor.py"
    own.write_text(VENDOR_MODULE.format(vendor_id="own-vendor"))
    assert resolve_vendor_module(str(own)) == own
    assert load_vendor(str(own)).vendor_id == "own-vendor"


def test_an_unknown_name_lists_the_shipped_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exited:
        load_vendor(f"nosuchvendor{secrets.token_hex(3)}")
    assert exited.value.exit_code == 1
    message = _error(capsys)
    assert "a shipped example (acme, careful, premium)" in message
    assert "mypkg.myvendor" in message
    assert message.count(".") <= 3 and "Traceback" not in message  # one plain sentence


def test_a_missing_file_says_it_is_not_a_file(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit):
        load_vendor("examples/nosuch.py")
    assert "examples/nosuch.py is not a file" in _error(capsys)


def test_a_module_missing_a_dependency_names_the_dependency(
    package: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not "unknown vendor": the module exists, one of its imports does not."""
    Path(package, "broken.py").write_text("import nosuchdependency_xyz\n")
    with pytest.raises(typer.Exit):
        load_vendor(f"{package}.broken")
    assert "imports 'nosuchdependency_xyz', which is not installed" in _error(capsys)


def test_a_missing_submodule_of_a_real_package_is_unknown(
    package: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit):
        load_vendor(f"{package}.nosuch")
    assert "no vendor module" in _error(capsys)
