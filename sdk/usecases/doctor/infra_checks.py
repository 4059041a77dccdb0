"""The doctor's checks of what the installation keeps its state in: the store (``STORAGE_URL``: the SQLite file
exists, is a SQLite database this user can write, with every table of this version; or the DynamoDB table exists
with this application's keys and TTL) and the queue (``QUEUE_URL``: the SQLite file, or the SQS queue, its
dead-letter queue and the redrive policy between them; then its depth and dead letters). The table's global
secondary indexes are checked too: without ``by_company`` the company card fails, without ``by_due`` no billing
schedule is ever found due.

Neither check creates anything: a store or queue file that is missing is reported, not made (opening one makes
it). A SQLite store made by an older version is brought up to date by opening it, as the server would.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sdk.usecases.doctor.results import Bilingual, CheckResult, Level, error, ok, warning

if TYPE_CHECKING:
    from sdk.queue import Queue
    from sdk.settings import Settings

#: where on AWS the names come from (serverless.yml's outputs)
_DEPLOY: Final = Bilingual(
    "deploy the stack (`npx osls deploy`), or point {setting} at the stack's {output} output; check the AWS "
    "credentials and region (AWS_PROFILE, AWS_REGION)",
    "スタックをデプロイするか（`npx osls deploy`）、{setting} をスタックの出力 {output} に合わせてください。"
    "AWSの認証情報とリージョン（AWS_PROFILE、AWS_REGION）も確認してください",
)


def _deploy(setting: str, output: str) -> Bilingual:
    return Bilingual(
        _DEPLOY.en.format(setting=setting, output=output), _DEPLOY.ja.format(setting=setting, output=output)
    )


def _sqlite_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _writable(path: Path) -> bool:
    return os.access(path, os.R_OK | os.W_OK) and os.access(path.parent.resolve(), os.W_OK | os.X_OK)


def _aws_refused(check_id: str, what: str, exc: BaseException, permission: str) -> CheckResult:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code") or type(exc).__name__
    return error(
        check_id,
        Bilingual(
            f"AWS refused to describe {what}: {code}", f"AWS が {what} の情報取得を拒否しました: {code}"
        ),
        Bilingual(
            f"check the AWS credentials and region (AWS_PROFILE, AWS_REGION) and the permission {permission}",
            f"AWSの認証情報とリージョン（AWS_PROFILE、AWS_REGION）と権限 {permission} を確認してください",
        ),
    )


# -- the store ---------------------------------------------------------------------------------------------------


def check_store(settings: Settings, open_store: Callable[[Settings], Any]) -> tuple[CheckResult, Any | None]:
    """The store of ``STORAGE_URL`` is there and usable, and the store itself (None when it is not)."""
    url = settings.storage_url
    gaps: list[str] = []
    if url.startswith("sqlite:///"):
        found, gaps = _check_sqlite_store(url)
    else:
        found = _check_dynamodb_table(url.removeprefix("dynamodb://"))
    if found is not None and not found.ok:
        return found, None
    try:
        store = open_store(settings)
    except Exception as exc:
        return error(
            "store",
            Bilingual(
                f"the store {url} cannot be opened: {type(exc).__name__}: {exc}",
                f"ストア {url} を開けません: {type(exc).__name__}: {exc}",
            ),
            Bilingual("check STORAGE_URL", "STORAGE_URL を確認してください"),
        ), None
    if gaps:
        return _migrated(url, gaps), store
    return found or ok("store", f"{url}: opened", f"{url}: 開けました"), store


def _migrated(url: str, gaps: list[str]) -> CheckResult:
    """A SQLite store that lacked ``gaps`` once opened (which adds what this version adds to an older file)."""
    from sdk.store.sqlite.store import schema_gaps

    left = schema_gaps(_sqlite_file(url))
    if left:
        missing = ", ".join(left)
        return error(
            "store",
            Bilingual(
                f"{url} lacks {missing}, which no version adds: it is not a hubspot-freee store, or a damaged one",
                f"{url} に {missing} がありません（追加できません）。hubspot-freee のストアではないか、壊れています",
            ),
            Bilingual(
                "set STORAGE_URL to the installation's store, or restore it from a backup",
                "STORAGE_URL をインストールのストアに設定するか、バックアップから復元してください",
            ),
        )
    added = ", ".join(gaps)
    return ok(
        "store",
        f"{url}: made by an older version; brought up to date now (added {added})",
        f"{url}: 旧バージョンのファイルのため更新しました（追加: {added}）",
    )


def _check_sqlite_store(url: str) -> tuple[CheckResult | None, list[str]]:
    """An error, or nothing wrong (None) and what the file lacks that opening it adds."""
    from sdk.store.sqlite.store import schema_gaps

    path = _sqlite_file(url)
    where = path.resolve()
    if not path.is_file():
        return error(
            "store",
            Bilingual(
                f"there is no store file at {where} (STORAGE_URL={url}): the ledger and freee's tokens are "
                "not there",
                f"{where} にストアのファイルがありません（STORAGE_URL={url}）。台帳と freee のトークンがありません",
            ),
            Bilingual(
                "run doctor in the installation's folder, or set STORAGE_URL to the absolute path of its store "
                "(sqlite:////srv/hubspot-freee/hubspot-freee.sqlite); on a new installation "
                "`hubspot-freee setup freee` creates it",
                "インストール先のフォルダで doctor を実行するか、STORAGE_URL をストアの絶対パスにしてください"
                "（例: sqlite:////srv/hubspot-freee/hubspot-freee.sqlite）。新規なら "
                "`hubspot-freee setup freee` が作成します",
            ),
        ), []
    try:
        gaps = schema_gaps(path)
    except sqlite3.Error as exc:
        return error(
            "store",
            Bilingual(
                f"{where} is not a usable SQLite database: {exc}",
                f"{where} は使用できる SQLite データベースではありません: {exc}",
            ),
            Bilingual(
                "set STORAGE_URL to the installation's store (sqlite:///path/to/hubspot-freee.sqlite), or "
                "restore it from a backup",
                "STORAGE_URL をインストールのストアに設定するか、バックアップから復元してください",
            ),
        ), []
    if not _writable(path):
        return error(
            "store",
            Bilingual(
                f"{where} (or its folder) is not writable by this user: the worker cannot record an invoice "
                "nor refresh freee's token",
                f"{where}（またはそのフォルダ）にこのユーザーは書き込めません。請求書の記録も freee トークンの"
                "更新もできません",
            ),
            Bilingual(
                "run as the service's user, or give it write access to the file and its folder (SQLite "
                "writes its -wal and -shm files beside it)",
                "サービスのユーザーで実行するか、ファイルとフォルダへの書き込み権限を与えてください"
                "（-wal と -shm ファイルが同じ場所に作られます）",
            ),
        ), []
    return ok(
        "store", f"{url}: every table of this version is there", f"{url}: 全テーブルがそろっています"
    ), gaps


def _check_dynamodb_table(table_name: str) -> CheckResult | None:
    import boto3

    from sdk.store.dynamodb.table import KEY_SCHEMA, TTL_ATTRIBUTE, table_shape

    try:
        shape = table_shape(boto3.client("dynamodb"), table_name)
    except Exception as exc:
        return _aws_refused("store", f"the DynamoDB table {table_name}", exc, "dynamodb:DescribeTable")
    if not shape.exists:
        return error(
            "store",
            Bilingual(
                f"the DynamoDB table {table_name} does not exist (STORAGE_URL=dynamodb://{table_name})",
                f"DynamoDB テーブル {table_name} がありません（STORAGE_URL=dynamodb://{table_name}）",
            ),
            _deploy("STORAGE_URL=dynamodb://<TableName>", "TableName"),
        )
    if shape.keys != KEY_SCHEMA:
        have = ", ".join(f"{n} ({k}, {t})" for n, k, t in shape.keys)
        want = ", ".join(f"{n} ({k}, {t})" for n, k, t in KEY_SCHEMA)
        return error(
            "store",
            Bilingual(
                f"the DynamoDB table {table_name} has the keys {have}, not {want}: it is not this "
                "application's table",
                f"DynamoDB テーブル {table_name} のキーが {have} で、{want} ではありません。このアプリの"
                "テーブルではありません",
            ),
            Bilingual(
                "set STORAGE_URL=dynamodb://<the stack's TableName output>",
                "STORAGE_URL をスタックの出力 TableName に合わせてください（dynamodb://<TableName>）",
            ),
        )
    indexes = _check_indexes(table_name, shape.indexes)
    if indexes is not None:
        return indexes
    if shape.ttl_known and shape.ttl_attribute != TTL_ATTRIBUTE:
        return warning(
            "store",
            Bilingual(
                f"the DynamoDB table {table_name} has no TTL on {TTL_ATTRIBUTE}: seen webhook events and old "
                "history are never deleted, so the table only grows",
                f"DynamoDB テーブル {table_name} の TTL（{TTL_ATTRIBUTE}）が無効です。既読のWebhookイベントと"
                "古い履歴が削除されず、テーブルが増え続けます",
            ),
            Bilingual(
                f"aws dynamodb update-time-to-live --table-name {table_name} --time-to-live-specification "
                f"Enabled=true,AttributeName={TTL_ATTRIBUTE} (the stack sets it)",
                f"aws dynamodb update-time-to-live --table-name {table_name} --time-to-live-specification "
                f"Enabled=true,AttributeName={TTL_ATTRIBUTE} を実行してください（スタックは設定済みです）",
            ),
        )
    return None


def _spelled(keys: tuple[tuple[str, str, str], ...]) -> str:
    return ", ".join(f"{n} ({k}, {t})" for n, k, t in keys)


def _check_indexes(
    table_name: str, have: Mapping[str, tuple[tuple[str, str, str], ...]]
) -> CheckResult | None:
    """An error for the first index of :data:`~sdk.store.dynamodb.table.INDEX_KEYS` the table lacks or keys
    otherwise (None: every one is there)."""
    from sdk.store.dynamodb.table import INDEX_KEYS

    for name, keys in INDEX_KEYS.items():
        if name not in have:
            command = _create_index(table_name, name)
            return error(
                "store",
                Bilingual(
                    f"the DynamoDB table {table_name} has no index {name} ({_spelled(keys)}): "
                    f"{_index_use(name).en}",
                    f"DynamoDB テーブル {table_name} にインデックス {name}（{_spelled(keys)}）がありません。"
                    f"{_index_use(name).ja}",
                ),
                Bilingual(
                    f"deploy the stack (`npx osls deploy`), which adds it; or add it by hand: {command} "
                    "(DynamoDB adds one index per update-table; it is used once its status is ACTIVE)",
                    f"スタックをデプロイしてください（`npx osls deploy`、インデックスが追加されます）。手動なら: {command}"
                    "（update-table 1回につき1つ追加でき、状態が ACTIVE になると使われます）",
                ),
            )
        if have[name] != keys:
            return error(
                "store",
                Bilingual(
                    f"the DynamoDB table {table_name} has an index {name} keyed on {_spelled(have[name])}, not "
                    f"{_spelled(keys)}: the store cannot read it",
                    f"DynamoDB テーブル {table_name} のインデックス {name} のキーが {_spelled(have[name])} で、"
                    f"{_spelled(keys)} ではありません。ストアが読めません",
                ),
                Bilingual(
                    f"delete the index ({_index_update(table_name, {'Delete': {'IndexName': name}})}), then "
                    "deploy the stack (`npx osls deploy`), which adds it as this version reads it",
                    f"インデックスを削除し（{_index_update(table_name, {'Delete': {'IndexName': name}})}）、"
                    "スタックをデプロイしてください（`npx osls deploy`、正しいキーで追加されます）",
                ),
            )
    return None


def _index_use(name: str) -> Bilingual:
    """What fails without the index ``name`` (the store's reads of it)."""
    from sdk.store.dynamodb.table import COMPANY_INDEX, DUE_INDEX

    return {
        COMPANY_INDEX: Bilingual(
            "a company's invoices and billing schedules cannot be read (the company card fails)",
            "会社の請求書と請求スケジュールを読めません（会社カードが失敗します）",
        ),
        DUE_INDEX: Bilingual(
            "no billing schedule is ever found due, so no period is invoiced",
            "請求スケジュールの期日が見つからず、期ごとの請求書が作成されません",
        ),
    }[name]


def _create_index(table_name: str, name: str) -> str:
    """The AWS CLI command that adds the index ``name`` as the store declares it."""
    from sdk.store.dynamodb.table import ATTRIBUTE_DEFINITIONS, GLOBAL_SECONDARY_INDEXES

    (index,) = [i for i in GLOBAL_SECONDARY_INDEXES if i["IndexName"] == name]
    keyed = {k["AttributeName"] for k in index["KeySchema"]}
    attributes = " ".join(
        f"AttributeName={a['AttributeName']},AttributeType={a['AttributeType']}"
        for a in ATTRIBUTE_DEFINITIONS
        if a["AttributeName"] in keyed
    )
    return _index_update(table_name, {"Create": index}, f" --attribute-definitions {attributes}")


def _index_update(table_name: str, update: Mapping[str, Any], options: str = "") -> str:
    """``aws dynamodb update-table`` making one change (``update``) to the table's global secondary indexes."""
    import json

    updates = json.dumps([update], separators=(",", ":"))
    return (
        f"aws dynamodb update-table --table-name {table_name}{options} "
        f"--global-secondary-index-updates '{updates}'"
    )


# -- the queue ---------------------------------------------------------------------------------------------------


def check_queue(queue: Queue) -> CheckResult:
    """The queue answers, and its dead-letter queue is empty."""
    try:
        depth = queue.depth()
    except Exception as exc:  # any backend error: the queue cannot be used
        return error(
            "queue",
            Bilingual(
                f"the queue {queue!r} cannot be used: {type(exc).__name__}: {exc}",
                f"キュー {queue!r} を利用できません: {type(exc).__name__}: {exc}",
            ),
            Bilingual(
                "check QUEUE_URL (and the AWS credentials for sqs://)",
                "QUEUE_URL（sqs:// ならAWSの認証情報も）を確認してください",
            ),
        )
    counts = (
        f"waiting {depth.visible}, in flight {depth.in_flight}, delayed {depth.delayed}, dead {depth.dead}"
    )
    counts_ja = (
        f"待機 {depth.visible}、処理中 {depth.in_flight}、遅延 {depth.delayed}、デッドレター {depth.dead}"
    )
    if depth.dead:
        return error(
            "queue",
            Bilingual(
                f"{depth.dead} message(s) in the dead-letter queue ({counts})",
                f"デッドレターが {depth.dead} 件あります（{counts_ja}）",
            ),
            Bilingual(
                "see them with `hubspot-freee dlq list`, fix the cause, then `hubspot-freee dlq redrive --all`",
                "`hubspot-freee dlq list` で確認し、原因を解消してから `hubspot-freee dlq redrive --all` を"
                "実行してください",
            ),
        )
    return ok("queue", counts, counts_ja)


def check_queue_url(settings: Settings, open_queue: Callable[[Settings], Queue]) -> CheckResult:
    """The queue of ``QUEUE_URL`` is there (without creating it), then :func:`check_queue`."""
    url = settings.queue_url
    if url.startswith("sqlite:///"):
        found = _check_sqlite_queue(url)
    else:
        found = _check_sqs_queue(url.removeprefix("sqs://"), settings.queue_max_receives)
    if found is not None and (found.level is Level.ERROR or url.startswith("sqlite:///")):
        return found  # a SQLite file that is not there yet is not made here
    try:
        queue = open_queue(settings)
    except Exception as exc:
        return error(
            "queue",
            Bilingual(f"QUEUE_URL cannot be opened: {exc}", f"QUEUE_URL を開けません: {exc}"),
            Bilingual("check QUEUE_URL", "QUEUE_URL を確認してください"),
        )
    depth = check_queue(queue)
    return found if found is not None and depth.ok else depth


def _check_sqlite_queue(url: str) -> CheckResult | None:
    from sdk.sqlite_db import read_tables

    path = _sqlite_file(url)
    where = path.resolve()
    if not path.exists():
        if not path.parent.resolve().is_dir() or not os.access(path.parent.resolve(), os.W_OK | os.X_OK):
            return error(
                "queue",
                Bilingual(
                    f"the queue file {where} cannot be made: its folder does not exist or is not writable",
                    f"キューのファイル {where} を作成できません（フォルダがないか書き込めません）",
                ),
                Bilingual(
                    "set QUEUE_URL to a file in a folder the service's user can write (sqlite:///path)",
                    "QUEUE_URL をサービスのユーザーが書き込めるフォルダのファイルにしてください",
                ),
            )
        return warning(
            "queue",
            Bilingual(
                f"there is no queue file at {where} yet: `hubspot-freee serve` (or `worker`) makes it when it "
                "starts; if they already run, their QUEUE_URL is another file",
                f"{where} にキューのファイルがまだありません。`hubspot-freee serve`（または `worker`）の起動時に"
                "作成されます。すでに動いているなら、その QUEUE_URL は別のファイルです",
            ),
            Bilingual(
                "run doctor in the server's folder with its QUEUE_URL",
                "サーバーと同じフォルダ・同じ QUEUE_URL で doctor を実行してください",
            ),
        )
    try:
        read_tables(path)
    except sqlite3.Error as exc:
        return error(
            "queue",
            Bilingual(
                f"{where} is not a usable SQLite database: {exc}",
                f"{where} は使用できる SQLite データベースではありません: {exc}",
            ),
            Bilingual(
                "set QUEUE_URL to the installation's queue (sqlite:///path/to/hubspot-freee.sqlite)",
                "QUEUE_URL をインストールのキューに設定してください",
            ),
        )
    if not _writable(path):
        return error(
            "queue",
            Bilingual(
                f"{where} (or its folder) is not writable by this user: webhooks cannot queue a deal",
                f"{where}（またはそのフォルダ）に書き込めないため、Webhookが取引をキューに入れられません",
            ),
            Bilingual(
                "run as the service's user, or give it write access to the file and its folder",
                "サービスのユーザーで実行するか、ファイルとフォルダへの書き込み権限を与えてください",
            ),
        )
    return None


def _check_sqs_queue(name: str, max_receives: int) -> CheckResult | None:
    from sdk.queue.sqs import SQSQueue

    queue = SQSQueue(name, max_receives=max_receives)
    try:
        shape = queue.shape()
    except Exception as exc:
        return _aws_refused("queue", f"the SQS queue {name}", exc, "sqs:GetQueueUrl / sqs:GetQueueAttributes")
    if shape.missing:
        missing = ", ".join(shape.missing)
        return error(
            "queue",
            Bilingual(
                f"the SQS queue(s) {missing} do not exist (QUEUE_URL=sqs://{name}; dead letters go to "
                f"{queue.dlq_name})",
                f"SQS キュー {missing} がありません（QUEUE_URL=sqs://{name}、デッドレターは {queue.dlq_name}）",
            ),
            _deploy("QUEUE_URL=sqs://<InvoiceQueueName>", "InvoiceQueueName"),
        )
    if shape.redrive_target != queue.dlq_name:
        return error(
            "queue",
            Bilingual(
                f"the SQS queue {name} does not send dead letters to {queue.dlq_name} (redrive policy: "
                f"{shape.redrive_target or 'none'}): a message that keeps failing is never set aside, and "
                "`dlq list` does not see it",
                f"SQS キュー {name} のデッドレター先が {queue.dlq_name} ではありません（{shape.redrive_target or 'なし'}）",
            ),
            _deploy("QUEUE_URL=sqs://<InvoiceQueueName>", "InvoiceQueueName"),
        )
    if shape.max_receive_count != max_receives:
        return warning(
            "queue",
            Bilingual(
                f"the SQS queue {name} dead-letters after {shape.max_receive_count} receives but "
                f"QUEUE_MAX_RECEIVES is {max_receives}: the worker's last attempt is counted wrong",
                f"SQS キュー {name} は {shape.max_receive_count} 回でデッドレターになりますが、QUEUE_MAX_RECEIVES は "
                f"{max_receives} です",
            ),
            Bilingual(
                f"set QUEUE_MAX_RECEIVES={shape.max_receive_count}",
                f"QUEUE_MAX_RECEIVES={shape.max_receive_count} を設定してください",
            ),
        )
    return None
