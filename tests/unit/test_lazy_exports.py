"""lazy_exports: a name is imported from its module on first read (absolute or relative to
the package), kept in the package's namespace, listed by dir(); an unknown name is the usual
AttributeError."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from probe_rnn.lazy_exports import lazy_exports


def _package(exports: dict[str, str]) -> types.ModuleType:
    package = types.ModuleType("probe_rnn.fake_package")
    package.__all__ = list(exports)
    package.__getattr__, package.__dir__ = lazy_exports(  # type: ignore[attr-defined]
        package.__name__, exports, vars(package))
    return package


def test_a_name_is_imported_from_its_module_on_first_read_and_kept() -> None:
    import probe_rnn.hashing as hashing

    package = _package({"file_sha256": "probe_rnn.hashing", "Interval": "probe_rnn.validation"})
    assert "file_sha256" not in vars(package)
    assert package.file_sha256 is hashing.file_sha256
    assert vars(package)["file_sha256"] is hashing.file_sha256  # the next read is a plain one
    assert set(dir(package)) >= {"file_sha256", "Interval"}


def test_a_relative_module_is_read_in_the_package() -> None:
    from probe_rnn.capture.store import StateStore

    getattr_, _ = lazy_exports("probe_rnn.capture", {"StateStore": "store"}, {})
    assert getattr_("StateStore") is StateStore


def test_an_unknown_name_is_an_attribute_error_naming_the_package() -> None:
    package = _package({})
    with pytest.raises(AttributeError, match="'probe_rnn.fake_package' has no attribute 'nope'"):
        package.nope  # noqa: B018
    assert not hasattr(package, "nope")


def test_importing_the_packages_imports_none_of_their_exports() -> None:
    code = ("import sys, probe_rnn, probe_rnn.capture, probe_rnn.data, probe_rnn.probing; "
            "print(sorted(m for m in ('torch', 'pandas', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
