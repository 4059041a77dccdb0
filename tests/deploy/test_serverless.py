"""``serverless.yml`` against the code: routes, handlers, queue, table, schedule, roles and secrets.

Pure Python (PyYAML), no npm and no AWS: ``make package-check`` builds and lints the real template; these tests
keep the file honest about the code it deploys (``functions.app.ROUTES`` is the one route table).
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
import tomllib
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from deploy import check_package
from functions.app import ROUTES
from sdk.queue import DLQ_SUFFIX
from sdk.settings import LEASE_MARGIN_SECONDS, SECRETS_ENV, Settings
from sdk.store.dynamodb import TTL_ATTRIBUTE
from sdk.store.dynamodb.table import ATTRIBUTE_DEFINITIONS, COMPANY_INDEX, DUE_INDEX, GLOBAL_SECONDARY_INDEXES

ROOT = Path(__file__).resolve().parents[2]
STAGE = "test"
#: what a Lambda artifact has no copy of: an import of one of these fails on AWS
NOT_IN_LAMBDA = (
    "flask",
    "werkzeug",
    "waitress",
    "typer",
    "rich",
    "cli",
    "sandbox",
    "local",
    "tests",
    "benchmarks",
)
#: X-Ray's write actions support no resource-level permissions: AWS requires Resource "*" for them
STAR_RESOURCE_ALLOWED = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


# ------------------------------------------------------------------------------------------ reading the file


class _Loader(yaml.SafeLoader):
    """Reads CloudFormation's short forms (``!Ref``, ``!GetAtt``, ``!Sub`` …) as their long forms."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_Loader.add_multi_constructor("!", _intrinsic)

_VARIABLE = re.compile(r"\$\{(self|sls|param|opt|env):([^},]*)(?:,\s*'([^']*)')?\}")


def _resolve(value: Any, root: dict[str, Any]) -> Any:
    """The framework's variables, as far as these tests need them (``self``, ``sls:stage``, ``param``, ``opt``)."""
    if isinstance(value, dict):
        return {k: _resolve(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, root) for v in value]
    if not isinstance(value, str):
        return value
    whole = _VARIABLE.fullmatch(value)
    if whole:
        return _resolve(_lookup(whole, root), root)
    return _VARIABLE.sub(lambda m: str(_resolve(_lookup(m, root), root)), value)


def _lookup(match: re.Match[str], root: dict[str, Any]) -> Any:
    source, address, default = match.group(1), match.group(2).strip(), match.group(3)
    if source == "self":
        node: Any = root
        for part in address.split("."):
            node = node[part]
        return node
    if source == "sls" and address == "stage":
        return STAGE
    if source == "param":
        params = root.get("params", {})
        return {**params.get("default", {}), **params.get("ci", {})}[address]
    if default is not None:
        return default
    raise KeyError(match.group(0))


@cache
def config() -> dict[str, Any]:
    raw = yaml.load((ROOT / "serverless.yml").read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    return dict(_resolve(raw, raw))


def functions() -> dict[str, dict[str, Any]]:
    return dict(config()["functions"])


def resources() -> dict[str, dict[str, Any]]:
    return dict(config()["resources"]["Resources"])


def function_with(handler: str) -> dict[str, Any]:
    (found,) = [f for f in functions().values() if f["handler"] == handler]
    return found


def environment(function: dict[str, Any]) -> dict[str, Any]:
    return {**config()["provider"].get("environment", {}), **function.get("environment", {})}


# ------------------------------------------------------------------------------------------ handlers, routes


def test_every_handler_imports_in_a_fresh_interpreter_without_flask_or_the_cli():
    handlers = sorted({f["handler"] for f in functions().values()})
    code = f"""
import importlib, json, sys
for name in {NOT_IN_LAMBDA!r}:
    sys.modules[name] = None  # not in the Lambda artifact: importing it raises ImportError
result = {{}}
for handler in {handlers!r}:
    module, function = handler.rsplit(".", 1)
    try:
        result[handler] = callable(getattr(importlib.import_module(module), function))
    except Exception as exc:
        result[handler] = f"{{exc.__class__.__name__}}: {{exc}}"
print(json.dumps(result))
"""
    out = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, cwd=ROOT
    )
    assert json.loads(out.stdout) == dict.fromkeys(handlers, True)


def _declared_routes() -> set[tuple[str, str, str]]:
    routes = set()
    for function in functions().values():
        for event in function.get("events", []):
            if "httpApi" in event:
                api = event["httpApi"]
                routes.add((str(api["method"]).upper(), api["path"], function["handler"]))
    return routes


def test_http_routes_are_exactly_the_route_table():
    assert _declared_routes() == {(r.method, r.path, r.lambda_handler) for r in ROUTES}


def test_the_route_table_check_fails_when_a_route_is_missing(monkeypatch):
    from functions import app
    from functions.app import Route

    monkeypatch.setattr(
        app, "ROUTES", (*ROUTES, Route("GET", "/new", "new", "functions.health.lambda_handler"))
    )
    assert _declared_routes() != {(r.method, r.path, r.lambda_handler) for r in app.ROUTES}


# ------------------------------------------------------------------------------------------ queue and worker


def test_the_worker_reports_partial_failures_and_dead_letters_after_max_receives():
    worker = function_with("functions.worker.lambda_handler")
    (sqs,) = [e["sqs"] for e in worker["events"] if "sqs" in e]
    assert sqs["functionResponseType"] == "ReportBatchItemFailures"
    assert sqs["arn"] == {"Fn::GetAtt": ["InvoiceQueue", "Arn"]}

    queue = resources()["InvoiceQueue"]["Properties"]
    dlq = resources()["InvoiceDeadLetterQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["InvoiceDeadLetterQueue", "Arn"]}
    max_receives = Settings.model_fields["queue_max_receives"].default
    assert int(queue["RedrivePolicy"]["maxReceiveCount"]) == max_receives == 5
    assert int(environment(worker)["QUEUE_MAX_RECEIVES"]) == max_receives
    assert dlq["QueueName"] == queue["QueueName"] + DLQ_SUFFIX  # where sdk.queue.sqs looks for dead letters
    assert environment(worker)["QUEUE_URL"] == f"sqs://{queue['QueueName']}"
    assert int(queue["VisibilityTimeout"]) >= int(worker["timeout"])  # AWS refuses the mapping otherwise


def lease_problems(worker: dict[str, Any]) -> list[str]:
    """DESIGN §3.5: the lease a worker takes on a deal (``INVOICE_LEASE_SECONDS``, renewed right before each freee
    write) is long enough to send a write at all, and ends a margin before the platform stops the worker."""
    env = environment(worker)
    lease = float(env.get("INVOICE_LEASE_SECONDS", Settings.model_fields["invoice_lease_seconds"].default))
    freee = float(env.get("FREEE_TIMEOUT_SECONDS", Settings.model_fields["freee_timeout_seconds"].default))
    problems = []
    if lease <= freee + LEASE_MARGIN_SECONDS:
        problems.append(
            f"lease {lease:g}s leaves no room for a freee write ({freee:g}s + {LEASE_MARGIN_SECONDS:g}s)"
        )
    if lease + LEASE_MARGIN_SECONDS > float(worker["timeout"]):
        problems.append(
            f"lease {lease:g}s + {LEASE_MARGIN_SECONDS:g}s is past the worker's timeout {worker['timeout']}s"
        )
    return problems


def test_the_invoice_lease_ends_a_margin_before_the_workers_timeout():
    worker = function_with("functions.worker.lambda_handler")
    assert lease_problems(worker) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"timeout": 90}, "past the worker's timeout"),  # the lease equals the time limit: no margin
        ({"environment": {"INVOICE_LEASE_SECONDS": "110"}}, "past the worker's timeout"),
        ({"environment": {"INVOICE_LEASE_SECONDS": "25"}}, "no room for a freee write"),
    ],
)
def test_the_lease_check_fails_when_the_margin_is_gone(change: dict[str, Any], problem: str):
    worker = function_with("functions.worker.lambda_handler")
    changed = {
        **worker,
        **change,
        "environment": {**worker.get("environment", {}), **change.get("environment", {})},
    }
    assert any(problem in p for p in lease_problems(changed))


def test_the_worker_is_throttled_to_freees_rate_limit_without_sqs_throttling():
    worker = function_with("functions.worker.lambda_handler")
    (sqs,) = [e["sqs"] for e in worker["events"] if "sqs" in e]
    assert 1 <= worker["reservedConcurrency"] <= 3
    assert sqs["maximumConcurrency"] <= worker["reservedConcurrency"]


def test_a_dead_letter_raises_an_alarm():
    alarms = [r["Properties"] for r in resources().values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    dlq_alarms = [
        a
        for a in alarms
        if a["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and a["Dimensions"]
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["InvoiceDeadLetterQueue", "QueueName"]}}]
    ]
    assert len(dlq_alarms) == 1
    alarm = dlq_alarms[0]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["AlarmActions"]


def test_a_lost_freee_connection_raises_an_alarm_from_the_worker_and_sync_logs():
    # the event the code logs when it meets the disconnected state, as Powertools writes it (under "message")
    from sdk.freee.oauth import TokenManager

    assert '"event": "freee_disconnected"' in inspect.getsource(TokenManager._disconnected)
    filters = {
        name: r
        for name, r in resources().items()
        if r["Type"] == "AWS::Logs::MetricFilter"
        and r["Properties"]["FilterPattern"] == '{ $.message.event = "freee_disconnected" }'
    }
    watched = {f["Properties"]["LogGroupName"] for f in filters.values()}
    service = config()["service"]
    assert watched == {f"/aws/lambda/{service}-{STAGE}-worker", f"/aws/lambda/{service}-{STAGE}-sync"}
    assert {f["DependsOn"] for f in filters.values()} == {"WorkerLogGroup", "SyncLogGroup"}
    metrics = {
        (t["MetricNamespace"], t["MetricName"])
        for f in filters.values()
        for t in f["Properties"]["MetricTransformations"]
    }
    assert len(metrics) == 1
    [(namespace, metric)] = metrics
    alarms = [
        r["Properties"]
        for r in resources().values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and (r["Properties"].get("Namespace"), r["Properties"]["MetricName"]) == (namespace, metric)
    ]
    assert len(alarms) == 1
    alarm = alarms[0]
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Sum",
        "GreaterThanThreshold",
        0,
    )
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert "hubspot-freee setup freee" in alarm["AlarmDescription"]


def test_the_health_check_reads_the_token_row_and_the_worker_can_hold_a_message():
    health = function_with("functions.health.lambda_handler")
    assert environment(health)["STORAGE_URL"].startswith("dynamodb://")
    readable = [
        s
        for s in _statements(resources()[health["role"]])
        if s["Resource"] == {"Fn::GetAtt": ["Table", "Arn"]}
    ]
    assert [set(_listed(s["Action"])) for s in readable] == [{"dynamodb:GetItem"}]
    worker = function_with("functions.worker.lambda_handler")
    on_queue = [
        set(_listed(s["Action"]))
        for s in _statements(resources()[worker["role"]])
        if s["Resource"] == {"Fn::GetAtt": ["InvoiceQueue", "Arn"]}
    ]
    assert any({"sqs:SendMessage", "sqs:DeleteMessage"} <= actions for actions in on_queue)


# ------------------------------------------------------------------------------------------ table, schedule


def test_the_table_matches_the_dynamodb_store():
    table = resources()["Table"]
    properties = table["Properties"]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert sorted(properties["AttributeDefinitions"], key=str) == sorted(ATTRIBUTE_DEFINITIONS, key=str)
    assert properties["GlobalSecondaryIndexes"] == GLOBAL_SECONDARY_INDEXES
    assert properties["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionPolicy"] == "Retain"
    for function in functions().values():
        if "STORAGE_URL" in environment(function):
            assert environment(function)["STORAGE_URL"] == f"dynamodb://{properties['TableName']}"


def test_the_payment_sync_runs_every_15_minutes_and_early_each_morning_in_tokyo():
    sync = function_with("functions.sync.lambda_handler")
    schedules = [e["schedule"]["rate"] for e in sync["events"] if "schedule" in e]
    assert "rate(15 minutes)" in schedules
    (daily,) = [s for s in schedules if s.startswith("cron(")]
    _minute, hour, *_ = daily.removeprefix("cron(").split()
    assert (int(hour) + 9) % 24 in range(4, 8)  # EventBridge cron is UTC; 04:00–07:59 Asia/Tokyo


def test_the_reconciliation_sweep_runs_every_hour_without_freee_and_daily_with_it():
    sweep = function_with("functions.sweep.lambda_handler")
    schedules = [e["schedule"] for e in sweep["events"] if "schedule" in e]
    hourly, daily = schedules
    assert hourly["rate"] == "rate(1 hour)" and hourly["input"] == {"check_freee": False}
    assert daily["rate"].startswith("cron(") and "input" not in daily  # the handler's default: freee checked
    _minute, hour, *_ = daily["rate"].removeprefix("cron(").split()
    assert (int(hour) + 9) % 24 in range(3, 6)  # early morning in Tokyo, before the daily payment sync
    assert sweep["reservedConcurrency"] == 1
    statements = _statements(resources()[sweep["role"]])
    assert any("sqs:SendMessage" in _listed(s["Action"]) for s in statements)
    assert not any("sqs:ReceiveMessage" in _listed(s["Action"]) for s in statements)


def test_the_billing_pass_runs_daily_in_the_tokyo_morning_and_only_queues():
    billing = function_with("functions.billing.lambda_handler")
    (schedule,) = [e["schedule"] for e in billing["events"] if "schedule" in e]
    _minute, hour, *_ = schedule["rate"].removeprefix("cron(").split()
    assert (int(hour) + 9) % 24 in range(
        6, 11
    )  # Tokyo morning: the day's periods billed at the working day's start
    assert billing["reservedConcurrency"] == 1
    statements = _statements(resources()[billing["role"]])
    assert any("sqs:SendMessage" in _listed(s["Action"]) for s in statements)
    assert not any("sqs:ReceiveMessage" in _listed(s["Action"]) for s in statements)


def _readers_of(index: str) -> dict[str, list[set[str]]]:
    """The handlers whose role may act on the table's index ``index``, with the actions of each statement."""
    on_index = {
        function["handler"]: [
            set(_listed(s["Action"]))
            for s in _statements(resources()[function["role"]])
            if s["Resource"] == {"Fn::Sub": f"${{Table.Arn}}/index/{index}"}
        ]
        for function in functions().values()
    }
    return {handler: found for handler, found in on_index.items() if found}


def test_only_the_card_reads_the_company_index_and_only_by_query():
    assert _readers_of(COMPANY_INDEX) == {"functions.cards.lambda_handler": [{"dynamodb:Query"}]}


def test_only_the_billing_pass_reads_the_due_index_and_only_by_query():
    assert _readers_of(DUE_INDEX) == {"functions.billing.lambda_handler": [{"dynamodb:Query"}]}


# ------------------------------------------------------------------------------------------ roles, secrets


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_each_function_has_its_own_least_privilege_role():
    provider = config()["provider"]
    assert "iam" not in provider and "iamRoleStatements" not in provider  # no shared role
    roles = [f.get("role") for f in functions().values()]
    assert None not in roles and len(set(roles)) == len(roles)
    for name in roles:
        role = resources()[name]
        assert role["Type"] == "AWS::IAM::Role"
        assert "ManagedPolicyArns" not in role["Properties"]
        for statement in _statements(role):
            assert statement["Effect"] == "Allow"
            actions = set(_listed(statement["Action"]))
            assert not any("*" in action for action in actions), (name, actions)
            if "*" in _listed(statement["Resource"]):
                assert actions <= STAR_RESOURCE_ALLOWED, (name, actions)


def _secret_names() -> set[str]:
    return {
        name.upper()
        for name, info in Settings.model_fields.items()
        if "SecretStr" in str(info.annotation) or name == "freee_client_id"
    }


def test_no_secret_is_in_a_plain_environment_variable():
    assert "HUBSPOT_ACCESS_TOKEN" in _secret_names() and "CUSTOM_CODE_SECRET" in _secret_names()
    for function in functions().values():
        assert not _secret_names() & {k.upper() for k in environment(function)}, function["handler"]


def test_each_role_reads_exactly_the_secrets_its_function_is_told_about():
    for function in functions().values():
        secret_ids = [s for s in str(environment(function).get(SECRETS_ENV, "")).split(",") if s]
        readable = [
            resource
            for statement in _statements(resources()[function["role"]])
            if "secretsmanager:GetSecretValue" in _listed(statement["Action"])
            for resource in _listed(statement["Resource"])
        ]
        arns = sorted(r["Fn::Sub"] for r in readable)
        expected = sorted(
            f"arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{s}-??????"
            for s in secret_ids
        )
        assert arns == expected, function["handler"]
        needs_settings = function["handler"] != "functions.health.lambda_handler"
        assert bool(secret_ids) == needs_settings, function["handler"]


# ------------------------------------------------------------------------------------------ packaging


def test_lambda_requirements_are_the_runtime_dependencies_with_the_same_ranges():
    lines = (ROOT / "deploy" / "requirements-lambda.txt").read_text(encoding="utf-8").splitlines()
    wanted = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dependencies = set(project["dependencies"])
    assert wanted <= dependencies
    left_out = {re.split(r"[<>=!~\[]", d, maxsplit=1)[0] for d in dependencies - wanted}
    assert left_out == {"typer", "rich", "flask", "waitress", "boto3"}
    python = config()["custom"]["pythonRequirements"]
    assert python["fileName"] == "deploy/requirements-lambda.txt"
    assert {"boto3", "botocore"} <= set(python["noDeploy"])
    assert python["pipCmdExtraArgs"] == [
        "--platform",
        "manylinux2014_x86_64",
        "--implementation",
        "cp",
        "--python-version",
        "3.12",
        "--only-binary=:all:",
    ]
    assert python["useStaticCache"] is False and python["useDownloadCache"] is False
    assert config()["provider"]["runtime"] == "python3.12"


def _pruned_modules() -> list[str]:
    patterns = config()["custom"]["pythonRequirements"]["slimPatterns"]
    return [p.replace("/", ".") for p in patterns if p.startswith("hubspot/")]


def test_the_hubspot_client_works_without_the_api_modules_the_package_leaves_out():
    pruned = _pruned_modules()
    assert "hubspot.crm.deals" not in pruned and "hubspot.automation.actions" not in pruned
    code = f"""
import importlib.abc, sys
PRUNED = {pruned!r}
class Pruned(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == p or name.startswith(p + ".") for p in PRUNED):
            raise ImportError(f"{{name}} is not in the Lambda artifact (serverless.yml slimPatterns)")
sys.meta_path.insert(0, Pruned())
import pytest
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-x", "tests/integration/test_hubspot_client.py"]))
"""
    done = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_patterns_keep_the_repository_out_of_the_artifact():
    patterns = config()["package"]["patterns"]
    assert patterns[0] == "!**"  # allow-list: only what follows is packaged
    assert {"sdk/**", "functions/**", "webhooks/**"} <= set(patterns)
    assert "!functions/app.py" in patterns  # the local Flask server
    assert not [p for p in patterns if p.startswith(("cli", "!cli"))]  # the CLI package is not even named


# ------------------------------------------------------------------------------------------ the zip check


def _artifact(folder: Path, files: dict[str, str | bytes]) -> None:
    with zipfile.ZipFile(folder / "app.zip", "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    template = {
        "Resources": {
            "F": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Handler": "functions.worker.lambda_handler",
                    "Code": {"S3Key": "x/y/app.zip"},
                },
            }
        }
    }
    (folder / check_package.TEMPLATE).write_text(json.dumps(template), encoding="utf-8")


PYC = check_package.PYC_HEADER + b"(bytecode)"
GOOD: dict[str, str | bytes] = {
    "functions/worker.py": "",
    "functions/__pycache__/worker.cpython-312.pyc": PYC,
    "pydantic_core/_pydantic_core.cpython-312-x86_64-linux-gnu.so": "",
    "pydantic_core-2.0.dist-info/WHEEL": "Tag: cp312-cp312-manylinux_2_17_x86_64\n",
    "six-1.dist-info/WHEEL": "Tag: py2-none-any\nTag: py3-none-any\n",
}


def test_the_zip_check_passes_a_lambda_ready_artifact(tmp_path, capsys):
    _artifact(tmp_path, GOOD)
    assert check_package.main([str(tmp_path)]) == 0
    assert "app.zip" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"tests/test_x.py": ""}, "must not be in the artifact: tests/"),
        ({"sandbox/freee.py": ""}, "must not be in the artifact: sandbox/"),
        ({"boto3/__init__.py": ""}, "must not be in the artifact: boto3/"),
        ({"flask/__init__.py": ""}, "must not be in the artifact: flask/"),
        ({"cli/__init__.py": ""}, "must not be in the artifact: cli/"),
        ({"typer/__init__.py": ""}, "must not be in the artifact: typer/"),
        ({"rich/__init__.py": ""}, "must not be in the artifact: rich/"),
        ({"waitress/__init__.py": ""}, "must not be in the artifact: waitress/"),
        (
            {"python_dateutil-4.0.0.dist-info/METADATA": "Name: python-dateutil\nVersion: 4.0.0\n"},
            "python-dateutil 4.0.0 shadows the Lambda runtime's: its botocore requires python-dateutil<3",
        ),
        ({"x/node_modules/y.js": ""}, "must not be in the artifact: x/node_modules/y.js"),
        ({"charset_normalizer/md.cpython-311-x86_64-linux-gnu.so": ""}, "built for cpython-311"),
        (
            {"pydantic_core-2.0.dist-info/WHEEL": "Tag: cp311-cp311-macosx_11_0_arm64\n"},
            "are not for CPython",
        ),
        (
            {"functions/worker.py": None, "functions/__pycache__/worker.cpython-312.pyc": None},
            "functions/worker.py is not in the artifact",
        ),
        (
            {"functions/__pycache__/worker.cpython-312.pyc": None},
            "modules without bytecode, compiled at every cold start: 1 (functions/worker.py)",
        ),
        (
            {"functions/__pycache__/worker.cpython-311.pyc": PYC},
            "worker.cpython-311.pyc: not CPython 3.12 bytecode",
        ),
        ({"functions/worker.pyc": PYC}, "functions/worker.pyc: not CPython 3.12 bytecode in a __pycache__"),
        (
            {"functions/__pycache__/worker.cpython-312.pyc": b"\xcb\r\r\n\x00\x00\x00\x00" + b"x" * 8},
            "worker.cpython-312.pyc: not an unchecked-hash .pyc of CPython 3.12",
        ),
        ({"x/__pycache__/gone.cpython-312.pyc": PYC}, "gone.cpython-312.pyc: no x/gone.py beside it"),
    ],
)
def test_the_zip_check_fails_on(tmp_path, capsys, files, problem):
    content = {**GOOD, **files}
    _artifact(tmp_path, {k: v for k, v in content.items() if v is not None})
    assert check_package.main([str(tmp_path)]) == 1
    assert problem in capsys.readouterr().err


def test_the_zip_check_passes_a_shipped_library_the_runtime_accepts(tmp_path):
    files = {
        **GOOD,
        "python_dateutil-2.9.0.post0.dist-info/METADATA": "Name: python-dateutil\nVersion: 2.9.0.post0\n",
    }
    _artifact(tmp_path, files)
    assert check_package.main([str(tmp_path)]) == 0


def test_the_runtime_ranges_are_those_for_lambdas_python_without_extras():
    lines = ['urllib3<1.27; python_version < "3.10"', "urllib3!=2.2.0,<3", "awscrt==0.1; extra == 'crt'"]
    assert [str(r) for r in check_package.lambda_requirements(lines)] == ["urllib3!=2.2.0,<3"]
    installed = {(library, r.name) for library, r in check_package.runtime_requirements()}
    assert ("botocore", "python-dateutil") in installed


def test_the_zip_check_holds_each_shipped_library_to_the_runtime_range(tmp_path):
    urllib3 = {"urllib3-2.8.0.dist-info/METADATA": "Metadata-Version: 2.4\nName: urllib3\nVersion: 2.8.0\n"}
    _artifact(tmp_path, {**GOOD, **urllib3})
    accepts = [("botocore", Requirement("urllib3!=2.2.0,<3"))]
    refuses = [("botocore", Requirement("urllib3<1.27"))]
    assert check_package.check_zip(tmp_path / "app.zip", [], 15, 60, runtime=accepts).problems == []
    assert check_package.check_zip(tmp_path / "app.zip", [], 15, 60, runtime=refuses).problems == [
        "urllib3 2.8.0 shadows the Lambda runtime's: its botocore requires urllib3<1.27; "
        "ship a version it accepts or leave it out"
    ]


def test_the_zip_check_fails_without_a_cp312_pydantic_core_or_over_budget(tmp_path, capsys):
    files = {k: v for k, v in GOOD.items() if not k.endswith(".so")}
    files["pydantic_core/_pydantic_core.cpython-311-x86_64-linux-gnu.so"] = "x" * 4096
    _artifact(tmp_path, files)
    assert check_package.main([str(tmp_path), "--unzipped-budget-mb", "0.001"]) == 1
    err = capsys.readouterr().err
    assert "no pydantic_core binary for CPython 3.12" in err
    assert "over the 0.001 MB budget" in err
