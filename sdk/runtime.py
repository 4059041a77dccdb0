"""What a Lambda handler builds once per container: each dependency on first use, then kept for the container's life.

Every Lambda module (``webhooks.hubspot``, ``functions.actions``, ``functions.cards``, ``functions.health``,
``functions.sync``, ``functions.worker``) holds one :class:`LambdaRuntime` and asks it only for what it uses, so a
handler builds no client it does not need: the webhook gets the store, the queue and the HubSpot client without
freee's credentials, ``/healthz`` gets the store without any secret. Settings come from the environment (and the
secrets ``SECRETS_ID`` names, :func:`sdk.settings.load_settings`).

A part that fails to build (a missing setting, a store that cannot be opened) is not kept: the next call tries
again. Tests hand a runtime the parts they built (``LambdaRuntime(context=world.context(), queue=...)``).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor

    from sdk.clock import Clock
    from sdk.queue import Queue
    from sdk.settings import Settings
    from sdk.store import Store
    from sdk.usecases.context import Context, HubSpotPort


class LambdaRuntime:
    def __init__(
        self,
        *,
        context: Context | None = None,
        store: Store | None = None,
        queue: Queue | None = None,
        sqs_client: Any = None,
    ) -> None:
        given: dict[str, Any] = {"store": store, "queue": queue, "sqs_client": sqs_client}
        if context is not None:
            given |= {
                "context": context,
                "settings": context.settings,
                "store": context.store,
                "clock": context.clock,
                "hubspot": context.hubspot,
            }
        self.__dict__.update({name: part for name, part in given.items() if part is not None})

    @cached_property
    def settings(self) -> Settings:
        from sdk.settings import load_settings

        return load_settings()

    @cached_property
    def clock(self) -> Clock:
        from sdk.clock import SystemClock

        return SystemClock()

    @cached_property
    def store(self) -> Store:
        from sdk.store import open_store

        return open_store(self.settings.storage_url)

    @cached_property
    def hubspot(self) -> HubSpotPort:
        from sdk.hubspot import HubSpotClient

        return HubSpotClient.from_settings(
            self.settings, clock=self.clock, token_store=self.store.hubspot_tokens
        )

    @cached_property
    def context(self) -> Context:
        """Everything a use case needs: the parts above and the freee client over the store's tokens."""
        from sdk.freee.client import FreeeClient
        from sdk.usecases.context import Context

        store, clock = self.store, self.clock
        freee = FreeeClient.from_settings(
            self.settings, token_store=store.tokens, rate_store=store.rate_limits, clock=clock
        )
        return Context(self.settings, store, self.hubspot, freee, clock)

    @cached_property
    def queue(self) -> Queue:
        """The invoice queue (``queue_url``)."""
        from sdk.queue import queue_from_settings

        return queue_from_settings(self.settings)

    @cached_property
    def sqs_client(self) -> Any:
        """One boto3 SQS client (the worker settles its records on the queues they came from)."""
        import boto3

        return boto3.client("sqs")

    @cached_property
    def sqs_batch_processor(self) -> BatchProcessor:
        """Powertools' partial-batch processor for SQS records. A batch where every record failed is reported like
        any other, not raised: the same redelivery, without an invocation error per busy deal."""
        from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

        return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


__all__ = ["LambdaRuntime"]
