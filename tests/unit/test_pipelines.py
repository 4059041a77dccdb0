from sdk.models import Pipeline
from sdk.pipelines import is_won_stage, won_stages
from sdk.settings import WonStageRules


def _pipelines() -> list[Pipeline]:
    def stage(sid, closed, probability):
        return {"id": sid, "label": sid, "metadata": {"isClosed": closed, "probability": probability}}

    return [
        Pipeline.model_validate(
            {
                "id": "default",
                "label": "営業",
                "stages": [
                    stage("appointmentscheduled", "false", "0.2"),
                    stage("closedwon", "true", "1.0"),
                    stage("closedlost", "true", "0.0"),
                ],
            }
        ),
        Pipeline.model_validate(
            {
                "id": "75e28846",
                "label": "パートナー経由",
                "stages": [
                    stage("1001", "false", "0.5"),
                    stage("1002", "true", "1.0"),
                    stage("1003", "true", "0.0"),
                    stage("1004", "false", "0.9"),
                ],
            }
        ),
    ]


def test_won_stages_come_from_metadata_including_custom_numeric_ids():
    won = won_stages(_pipelines(), WonStageRules())
    assert won == {("default", "closedwon"), ("75e28846", "1002")}
    assert is_won_stage("75e28846", "1002", won)
    assert not is_won_stage("75e28846", "1003", won)  # closed lost
    assert not is_won_stage("default", "1002", won)  # that id is won in another pipeline only
    assert is_won_stage(None, "1002", won)  # pipeline unknown: any pipeline's won stage
    assert not is_won_stage("default", None, won)


def test_rules_add_exclude_and_restrict():
    rules = WonStageRules(extra_stage_ids=("1004",), excluded_stage_ids=("closedwon",))
    assert won_stages(_pipelines(), rules) == {("75e28846", "1002"), ("75e28846", "1004")}
    only_default = WonStageRules(pipelines=("default",))
    assert won_stages(_pipelines(), only_default) == {("default", "closedwon")}
    explicit_only = WonStageRules(use_metadata=False, extra_stage_ids=("1001",))
    assert won_stages(_pipelines(), explicit_only) == {("75e28846", "1001")}
