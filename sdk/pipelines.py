"""Which deal stages count as won: decided by pipeline metadata and the ``won_stages`` settings, never by the
literal ``closedwon`` (custom pipelines use numeric stage ids)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sdk.models.hubspot import Pipeline
    from sdk.settings import WonStageRules


def won_stages(pipelines: Iterable[Pipeline], rules: WonStageRules) -> frozenset[tuple[str, str]]:
    """``(pipeline id, stage id)`` of every won stage.

    A stage is won when its metadata says so (``isClosed`` true, ``probability`` 1.0) and ``use_metadata`` is on,
    or when its id is in ``extra_stage_ids``; never when it is in ``excluded_stage_ids``. When ``pipelines`` is
    set, stages of other pipelines are never won (those deals are not invoiced).
    """
    extra, excluded, allowed = set(rules.extra_stage_ids), set(rules.excluded_stage_ids), set(rules.pipelines)
    won: set[tuple[str, str]] = set()
    for pipeline in pipelines:
        if allowed and pipeline.id not in allowed:
            continue
        for stage in pipeline.stages:
            if stage.id in excluded:
                continue
            if (rules.use_metadata and stage.is_won_by_metadata) or stage.id in extra:
                won.add((pipeline.id, stage.id))
    return frozenset(won)


def is_won_stage(pipeline_id: str | None, stage_id: str | None, won: frozenset[tuple[str, str]]) -> bool:
    """Whether a deal in ``pipeline_id`` at ``stage_id`` is won. A deal whose pipeline is unknown (webhook events
    carry only the stage) is won when that stage id is won in any pipeline."""
    if stage_id is None:
        return False
    if pipeline_id is None:
        return any(stage == stage_id for _, stage in won)
    return (pipeline_id, stage_id) in won
