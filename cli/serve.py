"""``hubspot-freee serve | sandbox | demo``: the processes that run on this machine.

``serve`` runs every HTTP route under waitress (a production WSGI server) with the invoice worker beside it;
``sandbox`` serves the freee and HubSpot sandboxes on loopback; ``demo`` runs the whole loop against them.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from cli.common import console, context, err, fail, open_queue, own_portal, stopped_by_signals
from cli.options import ConfigOption, flag


def sandbox(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default)")] = "127.0.0.1",
    freee_port: Annotated[int, typer.Option(help="freee sandbox port (0: any free port)")] = 0,
    hubspot_port: Annotated[int, typer.Option(help="HubSpot sandbox port (0: any free port)")] = 0,
    webhook_url: Annotated[
        str | None, typer.Option(help="Where the HubSpot sandbox delivers deal-stage webhooks")
    ] = None,
    speed: Annotated[float, typer.Option(help="Clock speed: 60 makes a minute pass every second")] = 1.0,
    rate_limit_per_minute: Annotated[int, typer.Option(help="freee sandbox requests per minute")] = 30,
) -> None:
    """Serve stateful freee and HubSpot sandboxes on loopback until interrupted (Ctrl-C).

    Prints the settings that point this package at them. Reset or seed them through /_sandbox on each.
    """
    import threading

    from local.sandboxes import operator_env
    from sandbox.freee import create_freee_sandbox
    from sandbox.hubspot import create_hubspot_sandbox
    from sandbox.transport import serve
    from sdk.clock import ScaledClock, SystemClock

    if speed <= 0:
        raise fail("--speed must be positive")
    clock = SystemClock() if speed == 1.0 else ScaledClock(speed)
    freee = create_freee_sandbox(clock=clock, rate_limit_per_minute=rate_limit_per_minute)
    hubspot = create_hubspot_sandbox(clock=clock, webhook_url=webhook_url)
    try:
        served_freee = serve(freee.app, host, freee_port)
        served_hubspot = serve(hubspot.app, host, hubspot_port)
    except OSError as exc:
        raise fail(f"cannot listen on {host}: {exc.strerror or exc}") from None
    env = operator_env(served_freee.url, served_hubspot.url)
    table = Table(title="sandboxes / サンドボックス", show_header=True, header_style="bold")
    table.add_column("service")
    table.add_column("url")
    table.add_column("admin")
    table.add_row("freee", served_freee.url, f"{served_freee.url}/_sandbox/state")
    table.add_row("HubSpot", served_hubspot.url, f"{served_hubspot.url}/_sandbox/state")
    console.print(table)
    console.print(
        Text(
            "settings for these sandboxes (sandbox credentials, not secrets) / サンドボックス用の設定:",
            style="bold",
        )
    )
    for name, value in env.items():
        typer.echo(f"export {name}={value}")
    console.print(
        Text("next, in another terminal with these settings / 次に、別の端末でこの設定のまま:", style="bold")
    )
    for step in SANDBOX_NEXT_STEPS:
        typer.echo(f"  {step}")
    console.print("Ctrl-C to stop / 停止は Ctrl-C", style="dim")
    try:
        with stopped_by_signals(threading.Event()) as stop:
            while not stop.wait(0.5):
                pass
    finally:
        served_hubspot.stop()
        served_freee.stop()
        hubspot.close()


SANDBOX_NEXT_STEPS = (
    "hubspot-freee setup hubspot        # the freee properties / プロパティ作成",
    "hubspot-freee setup freee --no-browser --port 0   # the sandbox approves by itself / 自動で許可",
    "hubspot-freee serve --port 8080 &  # server + worker / サーバーとワーカー",
    "hubspot-freee actions register --base-url http://127.0.0.1:8080   # the workflow action / ワークフローアクション",
    "hubspot-freee doctor               # everything checked / 全項目の確認",
)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0: any free port)")] = 8080,
    no_worker: Annotated[bool, flag("--no-worker", "Serve only; run `hubspot-freee worker` apart")] = False,
    config: ConfigOption = None,
) -> None:
    """The local server: every route (webhooks, workflow action, custom code, /healthz) and, unless
    --no-worker, the invoice worker in the same process. Runs until Ctrl-C or SIGTERM."""
    import threading

    from cli.web import GRACE_SECONDS, HttpServer, serve_until_signalled
    from functions.app import ROUTES, Services, create_app
    from functions.worker import WorkerThread
    from sdk.log import get_logger

    ctx = context(config)
    own_portal(ctx.settings, None)  # the tenant boundary needs the portal: refuse to start without it
    queue = open_queue(ctx.settings)
    get_logger()  # built here, once, before any request or worker thread can ask for it
    stop = threading.Event()
    worker = None if no_worker else WorkerThread(ctx, queue, stop=stop)
    checks, notes = ([worker.problems], [worker.notes]) if worker is not None else ([], [])
    web = create_app(Services(ctx, queue, health_checks=checks, health_notes=notes))
    try:
        server = HttpServer(web, host, port)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    if worker is not None:
        worker.start()
    base = f"http://{host}:{server.port}"
    table = Table(title=f"hubspot-freee on {base}", show_header=True, header_style="bold")
    table.add_column("method")
    table.add_column("url")
    for route in ROUTES:
        table.add_row(route.method, f"{base}{route.path}")
    console.print(table)
    console.print(
        Text(
            f"worker: {'separate (--no-worker) / 別プロセス' if no_worker else 'in this process / 同じプロセス'}"
            " · Ctrl-C to stop / 停止は Ctrl-C"
        )
    )
    # a worker thread that died is started again (and /healthz says so); the stop lets its message finish
    serve_until_signalled(server, stop, worker.check if worker is not None else None)
    if worker is not None:
        worker.join(timeout=GRACE_SECONDS)


def demo() -> None:
    """The whole loop on this machine, no account needed: sandboxes, the local server and worker, deals won
    in HubSpot, invoices in freee, payments, the payment sync, then deals and company balances as tables; then,
    the clock moved months ahead, a subscription billed once a month for three months and one month-end
    consolidated invoice. Exits non-zero if any step did not do what it should. / 全体の流れをこのマシンだけで実演します。"""
    import os

    os.environ.setdefault(
        "LOG_LEVEL", "WARNING"
    )  # the steps and tables are the output; logs only for trouble
    from local.demo import DemoFailed, run_demo

    try:
        run = run_demo(console)
    except DemoFailed as failed:
        raise fail(str(failed)) from None
    if run.problems:
        for problem in run.problems:
            err.print(Text.assemble(("• ", "red"), problem), soft_wrap=True)
        raise fail(f"{len(run.problems)} values differ from the plan / 想定と異なる値があります")
    console.print(Text("demo finished: every step did what it should / デモ完了", style="bold green"))
