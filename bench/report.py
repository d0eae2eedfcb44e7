"""The files a run leaves behind: figures as JSON, Markdown tables, plots.

``python bench/run.py --out DIR`` writes:

``figures.json``
    Every figure (median, min, max over the rounds) and every per-round
    ratio's median, min and max, the targets with their verdict, and what
    the figures were taken on: the machine (CPUs, model, kernel, load
    average at the start and at the end), the versions of Python,
    kombu_lite, kombu, py-amqp, pika and RabbitMQ (as the broker announces
    itself), the date, the command line, the rounds and message counts.
``figures.md``
    A sentence on how and where the run was taken, then the figures table
    and the targets table, as Markdown: ``docs/guide/performance.rst``
    includes it (with myst-parser).
``<section>.png``
    One bar chart per section, when matplotlib is installed (the ``bench``
    extra): each implementation's msg/s (``import ms`` for the import
    sections), median with min-max error bars, the section's ceiling as a
    horizontal line.
``plots.inc``
    reStructuredText that shows those plots, one ``image`` directive each,
    with paths relative to the directory above ``DIR``: the performance
    page includes it from there.

A section's *ceiling* is its peer whose label says ``ceiling``.
``python bench/report.py FIGURES_JSON OUT_DIR`` redraws the tables and
plots of a ``figures.json`` without running anything.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

Figures = dict[str, Any]
Log = Callable[[str], None]

#: What a section's plot shows, first one the section has.
PLOTTED_METRICS = ("msg/s", "import ms")


# -- what the run was taken on ------------------------------------------------


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(load, 2) for load in os.getloadavg()]


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _commit() -> str | None:
    """``git describe`` of the checkout the benchmark runs from, if any."""
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def broker_version(host: str, port: int) -> str | None:
    """RabbitMQ's version, from the ``server_properties`` of a connection."""
    import amqp

    try:
        conn = amqp.Connection(
            f"{host}:{port}", userid="guest", password="guest", connect_timeout=5
        )
        conn.connect()
    except (OSError, amqp.exceptions.AMQPError):
        return None
    try:
        version = conn.server_properties.get("version")
    finally:
        conn.close()
    if isinstance(version, bytes):
        version = version.decode()
    return None if version is None else str(version)


def run_start() -> Figures:
    """What to note before the first round: date, load, commit, clock."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "load_start": load_average(),
        "commit": _commit(),
        "clock": time.monotonic(),
    }


def finish(
    figures: Figures,
    start: Figures,
    argv: list[str],
    bases: Mapping[str, str],
    broker: tuple[str, int] | None,
) -> None:
    """Add to ``figures`` what the run was taken on, and the verdicts.

    The machine, the versions and the command line, each section's base
    and ceiling, and each target's ``verdict`` (met, missed or reported).
    ``broker`` is RabbitMQ's address, None when the run had none.
    """
    import kombu_lite

    figures.update(
        {
            "date": start["date"],
            "seconds": round(time.monotonic() - start["clock"], 1),
            "command": shlex.join(["python", *argv]),
            "machine": {
                "cpus": os.cpu_count(),
                "cpu_model": _cpu_model(),
                "kernel": f"{platform.system()} {platform.release()}",
                "load_start": start["load_start"],
                "load_end": load_average(),
            },
            "versions": {
                "python": platform.python_version(),
                "kombu_lite": kombu_lite.__version__,
                "kombu_lite commit": start["commit"],
                "kombu": _version("kombu"),
                "py-amqp": _version("amqp"),
                "pika": _version("pika"),
                "rabbitmq": broker_version(*broker) if broker else None,
            },
            "bases": {s: bases[s] for s in figures["sections"] if s in bases},
            "ceilings": ceilings(figures),
        }
    )
    for target in figures.get("targets", []):
        met = target.get("met")
        target["verdict"] = "reported" if met is None else ("met" if met else "missed")


def ceilings(figures: Figures) -> dict[str, str]:
    """Section -> the peer that is its ceiling, for sections that have one."""
    found = {}
    for section, peers in figures["sections"].items():
        for peer in peers:
            if "ceiling" in peer:
                found[section] = peer
                break
    return found


# -- Markdown -------------------------------------------------------------------


def _number(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(row: Mapping[str, float]) -> str:
    if "ratio" not in row:
        return ""
    return f"{row['ratio']:.2f} ({row['ratio_min']:.2f}-{row['ratio_max']:.2f})"


def _cell(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")


def _table(header: list[str], align: str, rows: list[list[str]]) -> list[str]:
    marks = {"l": "---", "r": "--:"}
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(marks[a] for a in align) + "|",
    ]
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return lines


def _preamble(figures: Figures) -> list[str]:
    """How and where the figures were taken, as a Markdown list."""
    items = []
    if "command" in figures:
        items.append(f"Command: `{figures['command']}`")
    when = figures.get("date", "date unknown")
    items.append(f"Run: {when}, {figures['rounds']} round(s), peers alternating")
    machine = figures.get("machine")
    if machine:
        start, end = machine["load_start"], machine["load_end"]
        items.append(
            f"Machine: {machine['kernel']}, {machine['cpus']} CPU(s)"
            f" ({machine['cpu_model']}), load average {start[0]} at the start,"
            f" {end[0]} at the end"
        )
    versions = figures.get("versions")
    if versions:
        named = ", ".join(f"{name} {value}" for name, value in versions.items())
        items.append(f"Versions: {named}")
    counts = figures.get("counts")
    if counts:
        listed = ", ".join(f"{s} {n:,}" for s, n in counts.items())
        items.append(f"Messages per case and round: {listed}")
    bases = figures.get("bases")
    if bases:
        listed = "; ".join(f"{s}: {base}" for s, base in bases.items())
        items.append(f"Ratios, round by round, against: {listed}")
    return [f"- {item}" for item in items]


def markdown(figures: Figures) -> str:
    """The figures table and the targets table, as Markdown."""
    rows = []
    failures = []
    for section, peers in figures["sections"].items():
        for peer, metrics in peers.items():
            for metric, row in metrics.items():
                if metric == "errors":
                    failures.extend(f"{section} / {peer}: {e}" for e in row)
                    continue
                rows.append(
                    [
                        section,
                        peer,
                        metric,
                        _number(row["median"]),
                        _number(row["min"]),
                        _number(row["max"]),
                        _ratio(row),
                    ]
                )
    lines = [*_preamble(figures), ""]
    lines += _table(
        ["Section", "Peer", "Unit", "Median", "Min", "Max", "Ratio (min-max)"],
        "lllrrrl",
        rows,
    )
    if failures:
        lines += ["", "Failed cases:", ""]
        lines += [f"- {_cell(failure)}" for failure in failures]
    targets = [
        [
            target["target"],
            _ratio(target),
            target["want"],
            target.get("verdict", ""),
        ]
        for target in figures.get("targets", [])
    ]
    if targets:
        lines += ["", "Targets (medians of the per-round ratios):", ""]
        lines += _table(
            ["Target", "Ratio (min-max)", "Want", "Verdict"], "lrll", targets
        )
    return "\n".join(lines) + "\n"


# -- plots -------------------------------------------------------------------------


def _matplotlib() -> tuple[Any, Any] | str:
    """Agg's canvas and matplotlib's Figure, or why they cannot be had."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        return f"matplotlib cannot be imported ({exc})"
    return FigureCanvasAgg, Figure


def _plotted_metric(peers: Mapping[str, Mapping[str, Any]]) -> str | None:
    for metric in PLOTTED_METRICS:
        if any(metric in metrics for metrics in peers.values()):
            return metric
    return None


def plot_section(
    section: str, figures: Figures, path: Path, libs: tuple[Any, Any]
) -> bool:
    """Draw one section's bar chart to ``path``; False if nothing to plot."""
    canvas_class, figure_class = libs
    peers = figures["sections"][section]
    metric = _plotted_metric(peers)
    if metric is None:
        return False
    ceiling = ceilings(figures).get(section) if metric == "msg/s" else None
    bars = [
        (peer, metrics[metric])
        for peer, metrics in peers.items()
        if peer != ceiling and metric in metrics
    ]
    if not bars:
        return False
    figure = figure_class(figsize=(1.4 * len(bars) + 2.5, 3.8), layout="constrained")
    canvas_class(figure)
    axes = figure.add_subplot()
    medians = [row["median"] for _peer, row in bars]
    spread = [
        [row["median"] - row["min"] for _peer, row in bars],
        [row["max"] - row["median"] for _peer, row in bars],
    ]
    labels = [textwrap.fill(peer, 18, break_long_words=False) for peer, _row in bars]
    drawn = axes.bar(labels, medians, yerr=spread, capsize=4, color="tab:blue")
    axes.bar_label(drawn, labels=[_number(m) for m in medians], padding=2, fontsize=8)
    if ceiling is not None and metric in peers[ceiling]:
        level = peers[ceiling][metric]["median"]
        axes.axhline(
            level,
            color="tab:red",
            linestyle="--",
            label=f"{ceiling}: {_number(level)}",
        )
        figure.legend(loc="outside lower center", fontsize=8, frameon=False)
    axes.set_ylabel(f"{metric} (median, min-max)")
    axes.set_title(f"{section}, {figures['rounds']} round(s)", fontsize=10)
    axes.tick_params(axis="x", labelsize=8)
    axes.margins(y=0.15)
    figure.savefig(path, dpi=90, metadata={"Software": None})
    return True


def plots(figures: Figures, out: Path, *, log: Log = print) -> list[Path]:
    """One PNG per section into ``out``; none, and one line why, without matplotlib."""
    libs = _matplotlib()
    if isinstance(libs, str):
        log(f"plots skipped: {libs}; pip install -e '.[bench]' to draw them")
        return []
    written = []
    for section in figures["sections"]:
        path = out / f"{section}.png"
        if plot_section(section, figures, path, libs):
            written.append(path)
    return written


def plots_include(pngs: list[Path], out: Path) -> str:
    """reStructuredText showing ``pngs``, paths relative to ``out``'s parent."""
    if not pngs:
        return "(No plots: the run that wrote these figures had no matplotlib.)\n"
    blocks = [
        f".. image:: {out.name}/{png.name}\n   :alt: {png.stem}, per peer\n"
        for png in pngs
    ]
    return "\n".join(blocks)


# -- all of it -----------------------------------------------------------------------


def write(figures: Figures, out: Path, *, log: Log = print) -> list[Path]:
    """Write the JSON, the Markdown, the plots and their include into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "figures.json", out / "figures.md", out / "plots.inc"]
    paths[0].write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    paths[1].write_text(markdown(figures), encoding="utf-8")
    pngs = plots(figures, out, log=log)
    paths[2].write_text(plots_include(pngs, out), encoding="utf-8")
    log(f"wrote {', '.join(p.name for p in [*paths, *pngs])} to {out}")
    return paths + pngs


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python bench/report.py FIGURES_JSON OUT_DIR  (redraws)")
    write(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
