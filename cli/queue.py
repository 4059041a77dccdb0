"""``hubspot-freee worker`` and ``dlq list | redrive``: the invoice queue, its worker and its dead letters.

The worker loop itself is ``functions/worker.py`` (the same code the Lambda handler runs); this module starts it,
prints one line (or one JSON line) per message, and lists or replays what it gave up on.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.text import Text

from cli.common import (
    EXIT_INCOMPLETE,
    RESULT_WORDS,
    console,
    context,
    err,
    fail,
    open_queue,
    own_portal,
    progress_bar,
    settings_from,
    stopped_by_signals,
)
from cli.options import ConfigOption, JsonOption, flag


def _on_queue(queue: Any, action: Any) -> Any:
    """Run a queue operation; a queue that cannot be reached is a message and exit code 2, not a traceback."""
    try:
        return action()
    except Exception as exc:
        raise fail(f"the queue {queue!r} cannot be used / キューを利用できません: {exc}") from None


def _worker_json(result: Any) -> dict[str, Any]:
    outcome = result.outcome
    invoice = outcome.invoice if outcome is not None else None
    return {
        "message_id": result.message_id,
        "deal_id": result.deal_id,
        "portal_id": result.job.portal_id if result.job else None,
        "trigger": result.job.trigger if result.job else None,
        "attempt": result.attempts,
        "result": result.result,
        "disposition": result.disposition.value,
        "invoice_number": invoice.invoice_number if invoice else None,
        "retry_in": result.delay if result.disposition.value in ("retry", "hold") else None,
        "error": result.error or (outcome.error_message if outcome is not None else None) or None,
    }


_WORKER_STYLES = {"done": "green", "retry": "yellow", "dead": "red", "hold": "magenta"}


def _worker_line(result: Any) -> Text:
    """One line per message, for a person: what happened (ja + en), the deal, the invoice and its amount; data
    is never read as markup."""
    from sdk.money import format_yen

    data = _worker_json(result)
    style = _WORKER_STYLES[data["disposition"]]
    what = f"deal {data['deal_id']}" if data["deal_id"] else f"message {data['message_id']}"
    line = Text.assemble(
        (RESULT_WORDS.get(data["result"], data["result"]), style),
        f" · {what} · attempt {data['attempt']} / {data['attempt']}回目",
    )
    invoice = result.outcome.invoice if result.outcome is not None else None
    if invoice is not None:
        line.append(f" · freee {invoice.invoice_number} {format_yen(invoice.amount_total)}")
    if data["retry_in"] is not None and data["disposition"] == "retry":
        line.append(f" · retry in {data['retry_in']:.0f} s / {data['retry_in']:.0f}秒後に再試行")
    if data["disposition"] == "dead":
        line.append(" · dead-lettered / デッドレターへ", style="red")
    if data["disposition"] == "hold":
        line.append(
            " · held: freee is disconnected, run `hubspot-freee setup freee` / freee接続切れのため保留",
            style="magenta",
        )
    if data["error"] and data["disposition"] != "done":
        line.append(f"\n    {data['error']}", style="dim")
    return line


def worker(
    once: Annotated[
        bool, flag("--once", "Handle what is queued now, then exit (exit 1 if any is not done)")
    ] = False,
    poll_interval: Annotated[
        float, typer.Option(min=0.1, help="Seconds between polls of an empty queue")
    ] = 1.0,
    as_json: Annotated[bool, flag("--json", "One JSON line per message")] = False,
    config: ConfigOption = None,
) -> None:
    """Run the invoice worker: take deals off the queue (QUEUE_URL) and invoice them, until Ctrl-C or SIGTERM.

    It holds one message at a time (none waits out its visibility timeout behind a slow one); run more workers
    for more at once. キューの取引を1件ずつ請求書にします。Ctrl-C で停止します。"""
    import threading

    from functions.worker import Disposition, drain, run_worker

    ctx = context(config)
    own_portal(ctx.settings, None)  # without it every job would be refused
    queue = open_queue(ctx.settings, ctx.clock)

    def report(result: Any) -> None:
        if as_json:
            typer.echo(json.dumps(_worker_json(result), ensure_ascii=False))
        else:
            console.print(_worker_line(result))

    if once:
        results = _on_queue(queue, lambda: drain(ctx, queue, on_result=report))
        done = sum(1 for r in results if r.disposition is Disposition.DONE)
        if not as_json:
            count = {d: sum(1 for r in results if r.disposition is d) for d in Disposition}
            console.print(
                Text.assemble(
                    f"handled {len(results)} message(s) / 処理 {len(results)} 件: ",
                    (f"{done} done / 完了", "green"),
                    ", ",
                    (f"{count[Disposition.RETRY]} to retry / 再試行", "yellow"),
                    ", ",
                    (f"{count[Disposition.DEAD]} dead-lettered / デッドレター", "red"),
                    ", ",
                    (f"{count[Disposition.HOLD]} held / 保留", "magenta"),
                )
            )
        raise typer.Exit(0 if done == len(results) else EXIT_INCOMPLETE)

    with stopped_by_signals(threading.Event()) as stop:
        if not as_json:
            console.print(Text(f"worker on {queue!r}; Ctrl-C to stop / 停止は Ctrl-C", style="dim"))
        handled = run_worker(ctx, queue, stop=stop, poll_interval=poll_interval, on_result=report)
    if not as_json:
        console.print(
            Text(f"stopped after {handled} message(s) / {handled} 件処理して停止しました", style="dim")
        )


dlq_app = typer.Typer(
    help="The dead-letter queue: messages the worker gave up on / デッドレターキュー", no_args_is_help=True
)


@dlq_app.command("list")
def dlq_list(
    limit: Annotated[int, typer.Option(min=1, help="At most this many")] = 100,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """The messages in the dead-letter queue, oldest first; nothing is taken off it."""
    queue = open_queue(settings_from(config))
    dead = _on_queue(queue, lambda: queue.dead_letters(limit))
    if as_json:
        rows = [
            {"message_id": m.id, "attempts": m.attempts, "reason": m.reason, "body": m.body} for m in dead
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    console.print(Text(f"dead letters / デッドレター: {len(dead)}", style="bold"))
    for m in dead:  # one block each: readable at 80 columns and in a pipe, data never read as markup
        deal = m.body.get("deal_id")
        console.print(
            Text.assemble(
                ("• ", "red"),
                (f"message {m.id}", "bold"),
                f" · deal {deal}" if deal is not None else " · (no deal / 取引なし)",
                f" · received {m.attempts} times / 受信 {m.attempts} 回",
            )
        )
        console.print(Text(f"    last error / 最後のエラー: {m.reason or '-'}"))
        body = json.dumps(m.body, ensure_ascii=False, separators=(",", ":"))
        console.print(Text(f"    {body if len(body) <= 120 else body[:119] + '…'}", style="dim"))
    if dead:
        console.print(
            Text(
                "replay after fixing the cause / 原因を解消後に再実行: hubspot-freee dlq redrive --all (or --id ID)",
                style="dim",
            )
        )


@dlq_app.command("redrive")
def dlq_redrive(
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="A dead letter's message id (repeatable)")
    ] = None,
    redrive_all: Annotated[bool, flag("--all", "Every dead letter")] = False,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Put dead letters back on the queue with their attempts reset (after the cause is fixed)."""
    if bool(ids) == redrive_all:
        raise fail(
            "say which: --id ID (repeatable) or --all, not both / --id か --all のどちらかを指定してください"
        )
    queue = open_queue(settings_from(config))
    wanted = None if redrive_all else list(dict.fromkeys(ids or []))
    total = len(wanted) if wanted is not None else _on_queue(queue, lambda: queue.depth().dead)
    with progress_bar({"redrive": "dead letters back / キューに戻す"}, quiet=as_json) as report:
        moved = _on_queue(
            queue, lambda: queue.redrive(wanted, on_moved=lambda n: report("redrive", n, total))
        )
    missing = 0 if wanted is None else len(wanted) - moved
    if as_json:
        typer.echo(json.dumps({"redriven": moved, "not_found": missing}))
    else:
        console.print(
            Text(f"{moved} message(s) back on the queue / {moved} 件をキューに戻しました", style="green")
        )
        if missing:
            err.print(
                Text(
                    f"{missing} id(s) not in the dead-letter queue / 見つからないID {missing} 件",
                    style="yellow",
                )
            )
    raise typer.Exit(EXIT_INCOMPLETE if missing else 0)
