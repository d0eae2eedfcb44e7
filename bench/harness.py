"""Rounds, statistics and the printed table of the benchmark run.

Every case is a function ``run(count) -> {metric: value}`` that sets up
its peer (connection, queue), measures only the part the section is about,
and cleans up.  The harness runs all the cases of all the sections once per
round, in a different peer order each round, so that a burst of noise on
the machine is spread over the peers instead of landing on one.  Figures
are the medians of the rounds; ratios are computed round by round (peer
against its section's base, in the same round) and their median reported.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

Metrics = dict[str, float]
Run = Callable[[int], Metrics]

_TOTALS = re.compile(rb"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


@dataclass(frozen=True)
class Case:
    """One peer of one section."""

    section: str
    peer: str
    run: Run
    count: int


@dataclass(frozen=True)
class Target:
    """A ratio the issue asks for: ``a / b`` compared with ``limit``.

    With ``limit`` None the ratio is only reported.  With ``b`` None the
    target is on ``a``'s own figure (its median over the rounds), such as
    a peak RSS in MiB.
    """

    label: str
    a: tuple[str, str]  # (section, peer)
    b: tuple[str, str] | None
    metric: str
    limit: float | None
    at_least: bool = True  # False: the ratio must stay at or below limit


@dataclass
class Results:
    """The samples of every (section, peer, metric), by round."""

    rounds: int = 0
    samples: dict[tuple[str, str, str], dict[int, float]] = field(default_factory=dict)
    order: list[tuple[str, str]] = field(default_factory=list)
    #: (section, peer) -> the errors of the rounds it failed in.
    errors: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def add(self, round_: int, section: str, peer: str, metrics: Metrics) -> None:
        if (section, peer) not in self.order:
            self.order.append((section, peer))
        for metric, value in metrics.items():
            self.samples.setdefault((section, peer, metric), {})[round_] = value

    def values(self, key: tuple[str, str, str]) -> list[float]:
        return list(self.samples[key].values())

    def metrics(self, section: str) -> list[str]:
        seen: list[str] = []
        for sec, _peer, metric in self.samples:
            if sec == section and metric not in seen:
                seen.append(metric)
        return seen

    def ratios(
        self, a: tuple[str, str], b: tuple[str, str], metric: str
    ) -> list[float]:
        """``a / b`` for every round both have a figure for."""
        left = self.samples.get((*a, metric), {})
        right = self.samples.get((*b, metric), {})
        return [left[r] / right[r] for r in left if right.get(r)]


def run_rounds(
    cases: list[Case], rounds: int, *, log: Callable[[str], None] = print
) -> Results:
    """Run every case once per round; peers of a section alternate."""
    results = Results(rounds=rounds)
    sections: dict[str, list[Case]] = {}
    for case in cases:
        sections.setdefault(case.section, []).append(case)
    for index in range(rounds):
        started = time.perf_counter()
        for peers in sections.values():
            shift = index % len(peers)
            for case in peers[shift:] + peers[:shift]:
                metrics = _attempt(case, results, index, log)
                if metrics is not None:
                    results.add(index, case.section, case.peer, metrics)
        log(f"round {index + 1}/{rounds} done in {time.perf_counter() - started:.1f}s")
    return results


def _attempt(
    case: Case, results: Results, round_: int, log: Callable[[str], None]
) -> Metrics | None:
    """Run a case; on failure wait a little and try once more.

    The broker may be restarted or have its connections closed by other
    users of the machine: a failure costs this round's figure, not the run.
    """
    for tries in (1, 2):
        try:
            return case.run(case.count)
        except Exception as exc:  # noqa: BLE001 - reported in the table
            error = f"round {round_ + 1}: {type(exc).__name__}: {exc}"
            log(f"{case.section} / {case.peer} failed ({error})")
            if tries == 2:
                results.errors.setdefault((case.section, case.peer), []).append(error)
            else:
                time.sleep(3)
    return None


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _summary(values: Iterable[float]) -> dict[str, float]:
    data = list(values)
    return {
        "median": statistics.median(data),
        "min": min(data),
        "max": max(data),
    }


def report(
    results: Results,
    bases: dict[str, str],
    targets: list[Target],
    *,
    out: Callable[[str], None] = print,
) -> dict[str, object]:
    """Print the tables; return the same figures as a JSON-able dict."""
    sections: dict[str, object] = {}
    for section in dict.fromkeys(sec for sec, _ in results.order):
        base = bases[section]
        out(f"\n[{section}]  ratio: against {base}, round by round")
        rows: dict[str, object] = {}
        for metric in results.metrics(section):
            out(
                f"  {'peer (' + metric + ')':<34}{'median':>11}{'min':>11}"
                f"{'max':>11}{'ratio':>8}{'r.min':>7}{'r.max':>7}"
            )
            for sec, peer in results.order:
                if sec != section or (sec, peer, metric) not in results.samples:
                    continue
                row = _summary(results.values((sec, peer, metric)))
                ratios = results.ratios((sec, peer), (sec, base), metric)
                if ratios:
                    ratio = _summary(ratios)
                    row["ratio"] = ratio["median"]
                    row["ratio_min"] = ratio["min"]
                    row["ratio_max"] = ratio["max"]
                rows.setdefault(peer, {})[metric] = row  # type: ignore[index]
                ratio_text = (
                    f"{row['ratio']:>8.2f}{row['ratio_min']:>7.2f}"
                    f"{row['ratio_max']:>7.2f}"
                    if "ratio" in row
                    else ""
                )
                out(
                    f"  {peer:<34}{_fmt(row['median']):>11}{_fmt(row['min']):>11}"
                    f"{_fmt(row['max']):>11}{ratio_text}"
                )
        for (sec, peer), errors in results.errors.items():
            if sec == section:
                for error in errors:
                    out(f"  {peer:<34}failed in {error}")
                rows.setdefault(peer, {})["errors"] = errors  # type: ignore[index]
        sections[section] = rows
    target_rows = []
    if targets:
        out("\n[targets]  medians of the per-round ratios")
    for target in targets:
        if target.b is None:
            ratios = list(results.samples.get((*target.a, target.metric), {}).values())
        else:
            ratios = results.ratios(target.a, target.b, target.metric)
        if not ratios:
            continue
        median = statistics.median(ratios)
        limit = target.limit
        met: bool | None = None
        want = "reported"
        if limit is not None:
            met = median >= limit if target.at_least else median <= limit
            want = f"{'>=' if target.at_least else '<='} {limit:g}"
        verdict = "" if met is None else ("met" if met else "MISSED")
        out(f"  {target.label:<60}{_fmt(median):>6}  {want:<10}{verdict}")
        target_rows.append(
            {
                "target": target.label,
                "ratio": median,
                "ratio_min": min(ratios),
                "ratio_max": max(ratios),
                "want": want,
                "met": met,
            }
        )
    return {"rounds": results.rounds, "sections": sections, "targets": target_rows}


def callgrind_instructions(argv: list[str]) -> int:
    """Instructions callgrind counts for ``python argv...`` run to its end.

    The child is this interpreter (``sys.executable``) under ``valgrind
    --tool=callgrind``; its output is captured, and a non-zero exit raises
    ``subprocess.CalledProcessError``.  The figure is the ``summary:`` (or
    ``totals:``) line of callgrind's output file, kept in a temporary
    directory that is removed afterwards.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                *argv,
            ],
            check=True,
            capture_output=True,
        )
        match = _TOTALS.search(Path(out).read_bytes())
        if match is None:
            raise RuntimeError("no totals in callgrind's output")
        return int(match.group(1))
