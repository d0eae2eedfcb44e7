"""bench/report.py: the JSON, Markdown and plots a benchmark run leaves.

Fed a small hand-made figures structure, shaped as bench/harness.py's
``report`` returns it; nothing here runs a benchmark or needs a broker.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent.parent / "bench"


def _load_report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", BENCH / "report.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report = _load_report()


def _row(median: float, low: float, high: float, ratio: float | None = None) -> Any:
    row: dict[str, float] = {"median": median, "min": low, "max": high}
    if ratio is not None:
        row.update(ratio=ratio, ratio_min=ratio - 0.1, ratio_max=ratio + 0.1)
    return row


def _figures() -> dict[str, Any]:
    """Two sections, one with a ceiling, one without msg/s; three targets."""
    return {
        "rounds": 3,
        "counts": {"publish": 1000, "import": 1},
        "sections": {
            "publish": {
                "raw py-amqp": {"msg/s": _row(9000, 8000, 9500, 1.0)},
                "kombu_lite": {
                    "msg/s": _row(15000, 14000, 16000, 1.67),
                    "client CPU us/msg": _row(20.0, 18.5, 23.5, 0.2),
                },
                "wire ceiling (captured frames)": {
                    "msg/s": _row(16500, 16000, 17000, 1.83)
                },
                "a|b": {"errors": ["round 2: ConnectionLost: gone"]},
            },
            "import": {"import kombu_lite": {"import ms": _row(12.0, 11.0, 13.0)}},
        },
        "targets": [
            {
                "target": "publish: kombu_lite / raw py-amqp",
                "ratio": 1.67,
                "ratio_min": 1.5,
                "ratio_max": 1.9,
                "want": ">= 2",
                "met": False,
            },
            {
                "target": "import time",
                "ratio": 0.12,
                "ratio_min": 0.1,
                "ratio_max": 0.15,
                "want": "<= 0.5",
                "met": True,
            },
            {
                "target": "consume CPU (reported)",
                "ratio": 0.8,
                "ratio_min": 0.7,
                "ratio_max": 0.9,
                "want": "reported",
                "met": None,
            },
        ],
    }


def _finished() -> dict[str, Any]:
    figures = _figures()
    start = report.run_start()
    bases = {"publish": "raw py-amqp", "import": "import kombu", "other": "x"}
    report.finish(figures, start, ["bench/run.py", "--rounds", "3"], bases, None)
    return figures


def _without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes an import raise ImportError, even of a
    # submodule another test already imported.
    for name in ("matplotlib", "matplotlib.backends.backend_agg", "matplotlib.figure"):
        monkeypatch.setitem(sys.modules, name, None)


def test_finish_records_the_machine_the_versions_and_the_command() -> None:
    figures = _finished()

    assert set(figures) >= {
        "date",
        "seconds",
        "command",
        "machine",
        "versions",
        "bases",
        "ceilings",
        "rounds",
        "counts",
        "sections",
        "targets",
    }
    assert figures["command"] == "python bench/run.py --rounds 3"
    assert set(figures["machine"]) == {
        "cpus",
        "cpu_model",
        "kernel",
        "load_start",
        "load_end",
    }
    assert len(figures["machine"]["load_end"]) == 3
    assert set(figures["versions"]) == {
        "python",
        "kombu_lite",
        "kombu_lite commit",
        "kombu",
        "py-amqp",
        "pika",
        "rabbitmq",
    }


def test_a_run_without_a_broker_records_no_rabbitmq_version() -> None:
    assert _finished()["versions"]["rabbitmq"] is None


def test_bases_are_kept_for_the_sections_that_ran() -> None:
    assert _finished()["bases"] == {"publish": "raw py-amqp", "import": "import kombu"}


def test_a_sections_ceiling_is_its_peer_labelled_ceiling() -> None:
    assert _finished()["ceilings"] == {"publish": "wire ceiling (captured frames)"}


def test_every_target_gets_a_verdict() -> None:
    verdicts = [target["verdict"] for target in _finished()["targets"]]

    assert verdicts == ["missed", "met", "reported"]


def test_the_markdown_has_one_row_per_figure_with_its_ratio() -> None:
    lines = report.markdown(_finished()).splitlines()

    assert "| Section | Peer | Unit | Median | Min | Max | Ratio (min-max) |" in lines
    assert (
        "| publish | kombu_lite | msg/s | 15,000 | 14,000 | 16,000 | 1.67 (1.57-1.77) |"
        in lines
    )
    assert (
        "| publish | kombu_lite | client CPU us/msg | 20.0 | 18.5 | 23.5 "
        "| 0.20 (0.10-0.30) |" in lines
    )
    assert "| import | import kombu_lite | import ms | 12.0 | 11.0 | 13.0 |  |" in lines


def test_the_markdown_targets_table_shows_want_and_verdict() -> None:
    lines = report.markdown(_finished()).splitlines()

    assert "| Target | Ratio (min-max) | Want | Verdict |" in lines
    assert (
        "| publish: kombu_lite / raw py-amqp | 1.67 (1.50-1.90) | >= 2 | missed |"
        in lines
    )
    assert (
        "| consume CPU (reported) | 0.80 (0.70-0.90) | reported | reported |" in lines
    )


def test_the_markdown_lists_failed_cases_with_table_characters_escaped() -> None:
    text = report.markdown(_finished())

    assert "- publish / a\\|b: round 2: ConnectionLost: gone" in text


def test_the_markdown_opens_with_the_command_and_the_versions() -> None:
    lines = report.markdown(_finished()).splitlines()

    assert lines[0] == "- Command: `python bench/run.py --rounds 3`"
    assert any(line.startswith("- Versions: python ") for line in lines)


def test_write_leaves_json_markdown_and_the_plots_include(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_matplotlib(monkeypatch)
    figures = _finished()

    report.write(figures, tmp_path, log=lambda line: None)

    assert json.loads((tmp_path / "figures.json").read_text()) == figures
    assert (tmp_path / "figures.md").read_text() == report.markdown(figures)
    assert (tmp_path / "plots.inc").exists()


def test_without_matplotlib_plots_are_skipped_with_one_line_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_matplotlib(monkeypatch)
    logged: list[str] = []

    written = report.write(_finished(), tmp_path, log=logged.append)

    assert not list(tmp_path.glob("*.png"))
    assert [p.name for p in written] == ["figures.json", "figures.md", "plots.inc"]
    [skipped] = [line for line in logged if "plot" in line and "skipped" in line]
    assert "matplotlib" in skipped
    assert "No plots" in (tmp_path / "plots.inc").read_text()


def test_with_matplotlib_each_section_gets_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is in the 'bench' extra")
    out = tmp_path / "bench"

    report.write(_finished(), out, log=lambda line: None)

    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["import.png", "publish.png"]
    assert all(
        (out / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for name in pngs
    )
    include = (out / "plots.inc").read_text()
    assert ".. image:: bench/publish.png" in include
    assert ".. image:: bench/import.png" in include
