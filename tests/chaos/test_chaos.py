"""The chaos scenario (issues 8, 13 and 14: cross-portal requests, a lost token answer, and the races of a worker
past its lease and of a marker lookup that must page, among the faults), on SQLite and on DynamoDB (moto); and its
recurring profile (issue 17, :mod:`tests.chaos.recurring`): subscriptions and consolidated companies billed day
by day over three months of the sandbox clock.

``make test`` runs the small profiles (the storm on each store, the recurring one on SQLite). ``make chaos`` runs
the full ones on both stores: the storm (1,000 deals on SQLite, 150 on moto's DynamoDB) over the fixed seeds and
``CHAOS_FRESH`` fresh ones, the recurring profile over its three fixed seeds; each seed is in the test id and in
its JSON report, and ``CHAOS_SEED=123 make chaos`` replays one (``CHAOS_STORES=sqlite`` for one store,
``CHAOS_PROFILES=recurring`` for one profile)."""

from __future__ import annotations

import json
import os
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from tests.chaos import harness, recurring

#: one line per storm run, printed at the end of the session (tests/chaos/conftest.py)
SUMMARIES: list[str] = []


def _seeds() -> list[int]:
    """``CHAOS_SEED`` (one or more, to replay), else the fixed seeds and ``CHAOS_FRESH`` fresh ones."""
    chosen = os.environ.get("CHAOS_SEED", "").replace(",", " ").split()
    if chosen:
        return [int(s) for s in chosen]
    fresh = int(os.environ.get("CHAOS_FRESH") or 0)
    draw = random.SystemRandom()
    return [*harness.FULL_SEEDS, *sorted({draw.randrange(6, 2**31) for _ in range(fresh)})]


def _recurring_seeds() -> list[int]:
    """``CHAOS_SEED`` (one or more, to replay), else the recurring profile's fixed seeds."""
    chosen = os.environ.get("CHAOS_SEED", "").replace(",", " ").split()
    return [int(s) for s in chosen] or list(recurring.FULL_RECURRING_SEEDS)


PROFILES = ("storm", "recurring")


def _profiles() -> list[str]:
    chosen = os.environ.get("CHAOS_PROFILES", "").replace(",", " ").split()
    unknown = set(chosen) - set(PROFILES)
    if unknown:
        raise ValueError(f"CHAOS_PROFILES: unknown profile(s) {sorted(unknown)}; use {' '.join(PROFILES)}")
    return chosen or list(PROFILES)


def _stores() -> list[str]:
    chosen = os.environ.get("CHAOS_STORES", "").replace(",", " ").split()
    unknown = set(chosen) - set(harness.STORES)
    if unknown:
        raise ValueError(f"CHAOS_STORES: unknown store(s) {sorted(unknown)}; use {' '.join(harness.STORES)}")
    return chosen or list(harness.STORES)


def _replay(report: harness.Report) -> str:
    """The command that runs this storm again (a small profile's seed is part of the profile)."""
    p = report.profile
    if p in (harness.SMALL, harness.SMALL_DYNAMODB, recurring.SMALL_RECURRING):
        return "make test (or: .venv/bin/python -m pytest tests/chaos -k small)"
    which = " CHAOS_PROFILES=recurring" if isinstance(p, recurring.Recurring) else " CHAOS_PROFILES=storm"
    return f"CHAOS_SEED={p.seed} CHAOS_STORES={p.store}{which} make chaos"


def _record(report: harness.Report, out_dir: Path) -> Path:
    """The storm's JSON report. The recurring profile's are ``chaos-recurring-<store>-<seed>.json`` (not the
    storm's ``chaos-*seed-N.json``, which ``benchmarks/chaos_table.py`` tabulates)."""
    profile = report.profile
    fixed = harness.FULL_SEEDS
    if isinstance(profile, recurring.Recurring):
        name, fixed = f"chaos-recurring-{profile.store}-{profile.seed}.json", recurring.FULL_RECURRING_SEEDS
    elif profile.store == "sqlite":
        name = f"chaos-seed-{profile.seed}.json"
    else:
        name = f"chaos-{profile.store}-seed-{profile.seed}.json"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / name
    body: dict[str, Any] = {
        "seed": profile.seed,
        "store": profile.store,
        "fixed_seed": profile.seed in fixed,
        "replay": _replay(report),
        "seconds": round(report.seconds, 1),
        "problems": len(report.problems),
        "first_problems": report.problems[:20],
        **report.counters,
        "profile": asdict(profile),
    }
    out.write_text(json.dumps(body, ensure_ascii=False, indent=2))
    return out


def _summary(report: harness.Report, where: Path | None = None) -> str:
    c, p = report.counters, report.profile
    verdict = "clean" if not report.problems else f"{len(report.problems)} PROBLEMS"
    line = (
        f"{p.store} seed {p.seed} ({p.deals} deals, freee lists {p.invoice_order}): {verdict} in {report.seconds:.0f} s"
        f" — invoices {c['invoices']}, duplicates {c['duplicate invoices']}, lost {c['lost deals']}, orphans"
        f" {c['orphans']}, wrong write-backs {c['wrong write-backs']}, failed/invalid with an invoice"
        f" {c['deals failed/invalid with an invoice']}, statuses gone backwards {c['statuses gone backwards']}"
    )
    if where is not None:
        line += f" → {where}"
    if report.problems:
        line += f"; replay: {_replay(report)}"
    return line


def _assert_clean(report: harness.Report) -> None:
    summary = json.dumps(dict(report.counters), ensure_ascii=False, sort_keys=True)
    replay = f"replay: {_replay(report)}"
    assert report.problems == [], f"{len(report.problems)} problems ({replay}; {summary}):\n" + "\n".join(
        report.problems[:40]
    )
    assert report.counters["invoices"] == report.profile.deals
    assert report.counters["duplicate invoices"] == 0
    assert report.counters["lost deals"] == 0
    assert report.counters["wrong write-backs"] == 0
    # issue 14: no invoice of a deal beside its recorded one, no deal failed or invalid while its invoice exists,
    # no status that went backwards
    assert report.counters["orphans"] == 0
    assert report.counters["deals failed/invalid with an invoice"] == 0
    assert report.counters["statuses gone backwards"] == 0
    # another portal's validly signed requests: every one refused (the invoice count above shows none got in)
    assert report.counters["cross-portal requests"] > 0
    assert report.counters["cross-portal requests refused"] == report.counters["cross-portal requests"]
    # freee lost a token answer: the installation said so, held the work without dead-lettering it, reconnected
    assert report.counters["disconnected seen on /healthz"] == 1
    assert report.counters["messages waiting while disconnected"] > 0
    assert report.counters["dead letters for the disconnection while disconnected"] == 0
    assert report.counters["dead letters for the disconnection after the storm"] == 0
    assert report.counters["reconnected"] == 1


def _assert_the_storm_happened(report: harness.Report, *, duplicates: bool = True) -> None:
    """Faults on both services, killed workers, a store restart, duplicates (eight deals make too few batches to
    be sure of one), and what issue 14 added: freee's real limits, a crowd listed past its first page, a lost answer
    to a crowd's invoice, a zombie, late answers."""
    c = report.counters
    assert c["store restarts"] == 1
    assert c["workers killed"] >= 1
    assert sum(v for k, v in c.items() if k.startswith("freee faults")) > 0
    assert sum(v for k, v in c.items() if k.startswith("hubspot faults")) > 0
    if duplicates:
        assert c["batches delivered twice or more"] > 0
    assert c["freee calls under its real limits"] > 0
    assert c["crowd invoices made before the storm"] > 100  # more than one page of freee's list
    assert c["crowd answers lost"] >= 1
    assert c["workers stalled past their lease"] >= 1
    assert c["freee faults latency"] > 0


def _recurring_summary(report: harness.Report, where: Path | None = None) -> str:
    c, p = report.counters, report.profile
    assert isinstance(p, recurring.Recurring)
    verdict = "clean" if not report.problems else f"{len(report.problems)} PROBLEMS"
    line = (
        f"recurring {p.store} seed {p.seed} ({p.deals} subscriptions, {p.consolidated} consolidated companies with"
        f" {c['deals of consolidated companies']} deals, {p.months} months): {verdict} in {report.seconds:.0f} s"
        f" — invoices {c['invoices']} (periods {c['period invoices']}, consolidated {c['consolidated invoices']}),"
        f" duplicates {c['duplicate invoices']}, missing periods {c['missing periods']}, windows without exactly"
        f" one invoice {c['windows without exactly one invoice']}, wrong write-backs {c['wrong write-backs']};"
        f" workers killed {c['workers killed']}, faults {_faults(report)}"
    )
    if where is not None:
        line += f" → {where}"
    if report.problems:
        line += f"; replay: {_replay(report)}"
    return line


def _faults(report: harness.Report) -> int:
    return sum(v for k, v in report.counters.items() if k.startswith(("freee faults", "hubspot faults")))


def _assert_recurring_clean(report: harness.Report) -> None:
    """0 duplicate invoices, 0 missing periods, one invoice per company and closing window with charges, every
    deal showing its invoices; and the storm happened (faults on both services, time-outs after commit, killed
    workers, the store restarted, operators' billing runs beside the workers)."""
    c = report.counters
    summary = json.dumps(dict(c), ensure_ascii=False, sort_keys=True)
    assert report.problems == [], (
        f"{len(report.problems)} problems (replay: {_replay(report)}; {summary}):\n"
        + "\n".join(report.problems[:40])
    )
    assert c["duplicate invoices"] == 0
    assert c["missing periods"] == 0
    assert c["windows without exactly one invoice"] == 0
    assert c["consolidated invoices"] == c["windows with charges"] > 0
    assert c["period invoices"] > report.profile.deals  # subscriptions billed more than once each on average
    assert c["wrong write-backs"] == 0
    assert c["workers killed"] >= 1
    assert c["freee faults timeout_after_commit"] > 0
    assert sum(v for k, v in c.items() if k.startswith("hubspot faults")) > 0
    assert c["store restarts"] == 1
    assert c["billing runs"] + c["billing runs killed"] >= 1


def test_small_recurring_storm_bills_every_period_once(tmp_path: Path):
    report = recurring.run(recurring.SMALL_RECURRING, tmp_path)
    SUMMARIES.append(_recurring_summary(report))
    _assert_recurring_clean(report)


def test_small_storm_every_deal_one_invoice_every_value_right(tmp_path: Path):
    report = harness.run(harness.SMALL, tmp_path)
    SUMMARIES.append(_summary(report))
    _assert_clean(report)
    _assert_the_storm_happened(report)


def _dynamodb() -> Any:
    """A boto3 DynamoDB resource inside moto (the ``aws`` fixture, which also serialises moto's requests so every
    thread of the storm shares one mocked table safely). Made here rather than by the ``dynamodb`` fixture: that
    one's session-wide botocore session can be older than moto's import, and then it is not mocked."""
    import boto3

    return boto3.resource("dynamodb")


def test_small_storm_on_dynamodb(tmp_path: Path, aws: None):
    report = harness.run(harness.SMALL_DYNAMODB, tmp_path, dynamodb=_dynamodb())
    SUMMARIES.append(_summary(report))
    _assert_clean(report)
    _assert_the_storm_happened(report, duplicates=False)


@pytest.mark.chaos
@pytest.mark.parametrize("store", _stores())
@pytest.mark.parametrize("seed", _seeds() if "storm" in _profiles() else [], ids=lambda seed: f"seed-{seed}")
def test_full_storm(tmp_path: Path, seed: int, store: str, request: pytest.FixtureRequest):
    dynamodb = None
    if store == "dynamodb":
        request.getfixturevalue("aws")
        dynamodb = _dynamodb()
    report = harness.run(harness.full(seed, store), tmp_path, dynamodb=dynamodb)
    out = _record(report, Path(os.environ.get("CHAOS_REPORT_DIR", tmp_path)))
    SUMMARIES.append(_summary(report, out))
    _assert_clean(report)
    # HubSpot delivered some batches twice or more: each batch is repeated with probability 0.4, but how many
    # batches the storm makes depends on the machine's load (12 to 20 seen), so a share would be a coin toss
    # (2 of 12 happens 8 % of the time); at least one repeated batch and one duplicate delivery is the fact
    assert report.counters["batches delivered twice or more"] >= 1
    assert report.counters["duplicate deliveries"] >= 1


@pytest.mark.chaos
@pytest.mark.parametrize("store", _stores())
@pytest.mark.parametrize(
    "seed", _recurring_seeds() if "recurring" in _profiles() else [], ids=lambda seed: f"seed-{seed}"
)
def test_full_recurring_storm(tmp_path: Path, seed: int, store: str, request: pytest.FixtureRequest):
    dynamodb = None
    if store == "dynamodb":
        request.getfixturevalue("aws")
        dynamodb = _dynamodb()
    report = recurring.run(recurring.full_recurring(seed, store), tmp_path, dynamodb=dynamodb)
    out = _record(report, Path(os.environ.get("CHAOS_REPORT_DIR", tmp_path)))
    SUMMARIES.append(_recurring_summary(report, out))
    _assert_recurring_clean(report)
