"""The CLI's contract for bad input: one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.cli_support import assert_one_line_error, run_cli


def test_version_and_help() -> None:
    from probe_rnn import __version__

    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"probe-rnn {__version__}"
    proc = run_cli("--help")
    assert proc.returncode == 0
    for command in ("train", "inspect", "capture", "probe", "attribute", "report", "demo",
                    "plugins"):
        assert command in proc.stdout


def test_missing_checkpoint_is_one_line(tmp_path: Path) -> None:
    proc = run_cli("probe", str(tmp_path / "nope.pt"), "--dataset", "names",
                   "--out", str(tmp_path / "run"))
    assert_one_line_error(proc, "nope.pt")
    assert not (tmp_path / "run" / "index.html").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    proc = run_cli("probe", str(tmp_path / "nope.pt"), "--dataset", "names",
                   "--out", str(tmp_path / "run"), "--debug")
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--dataset", "no-such-dataset"), "no-such-dataset"),
        ((), "--data"),  # neither --data nor --dataset
    ],
)
def test_data_source_errors(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    model = tmp_path / "m.pt"
    proc = run_cli("train", "--dataset", "synthetic", "--epochs", "1", "--hidden", "8",
                   "--out", str(model))
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("probe", str(model), "--out", str(tmp_path / "run"), *args)
    assert_one_line_error(proc, needle)


def test_unknown_plugin_folder_is_one_line(tmp_path: Path) -> None:
    proc = run_cli("plugins", "--plugins", str(tmp_path / "missing"))
    assert_one_line_error(proc, "missing")


def test_plugins_lists_builtins_and_repo_examples() -> None:
    repo = Path(__file__).resolve().parents[2]
    proc = run_cli("plugins", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    for name in ("logistic", "ridge", "mlp", "label", "length", "probe-rnn"):
        assert name in proc.stdout
    # the repo's example plugins, loaded like a user's, their origin shown relative to the cwd
    for name, origin in (("centroid", "probes/nearest_centroid.py"),
                         ("vowel-ending", "probes/vowel_ending.py")):
        assert name in proc.stdout
        assert origin in proc.stdout


def test_a_list_with_spaces_says_lists_take_commas(tmp_path: Path) -> None:
    proc = run_cli("probe", str(tmp_path / "m.pt"), "--out", str(tmp_path / "run"),
                   "--tasks", "label", "vowel-ending", "length", "--folds", "3")
    assert_one_line_error(proc, "unexpected extra argument", "comma-separated",
                          "--tasks label,vowel-ending,length", "probe-rnn probe --help")


@pytest.mark.parametrize("args, needle", [
    (("probe", "m.pt", "--out", "r", "--bogus"), "No such option: --bogus"),
    (("probe", "m.pt", "--out", "r", "--folds", "x"), "Invalid value for '--folds'"),
    (("probe",), "Missing argument"),
    (("nope",), "No such command"),
])
def test_usage_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    assert_one_line_error(run_cli(*args, cwd=tmp_path), needle)
    assert not (tmp_path / "r").exists()


def test_no_command_prints_the_help() -> None:
    proc = run_cli()
    assert "Usage: probe-rnn" in proc.stdout and "Traceback" not in proc.stderr
