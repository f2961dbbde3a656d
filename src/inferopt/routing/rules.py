"""Rule router: a prompt's task type and complexity, mapped to a model by config.

::

    router = RuleRouter(
        rules={"code/high": "gpt-4o", "code": "gpt-4o-mini", "*/low": "gpt-4o-mini"},
        default="gpt-4o-mini",
        targets={...},
    )

A rule key is ``task/complexity``, ``task`` (any complexity) or ``*/complexity`` (any task); the
most specific match wins, then ``default``. The classifier is :func:`~inferopt.routing.classify.classify`
unless replaced by any function of the request (a user's rules, or a cheap model call).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from inferopt.errors import ConfigError
from inferopt.routing.classify import COMPLEXITIES, TASKS, Classification, classify
from inferopt.routing.routed import RouteRecord, Targets
from inferopt.types import ChatRequest, ChatResponse, Model, StreamDone, StreamEvent

Classifier = Callable[[ChatRequest], Classification | Awaitable[Classification]]


def _builtin(request: ChatRequest) -> Classification:
    return classify(request.last_user_text)


class RuleRouter:
    """A Model that sends each request to the model its (task, complexity) rule names."""

    def __init__(
        self,
        rules: Mapping[str, str],
        targets: Mapping[str, Model],
        *,
        default: str | None = None,
        classifier: Classifier = _builtin,
        name: str = "rules",
    ) -> None:
        for key in rules:
            task, _, complexity = key.partition("/")
            if task not in (*TASKS, "*") or (complexity and complexity not in COMPLEXITIES):
                raise ConfigError(
                    f"rule {key!r}: use 'task', 'task/complexity' or '*/complexity' with task in {TASKS} "
                    f"and complexity in {COMPLEXITIES}",
                    key=f"routers.{name}.rules",
                )
        self.rules = dict(rules)
        self.default = default
        self.classifier = classifier
        self.name = name
        self.targets = Targets(targets)
        self.targets.require([*self.rules.values(), *([default] if default else [])], name)

    def pick(self, label: Classification) -> tuple[str, str]:
        """(model, the rule that matched) for a classification."""
        for key in (f"{label.task}/{label.complexity}", label.task, f"*/{label.complexity}"):
            if key in self.rules:
                return self.rules[key], key
        if self.default is None:
            raise ConfigError(
                f"router {self.name!r}: no rule matches {label.task}/{label.complexity} and there is no default; "
                "add a default model"
            )
        return self.default, "default"

    async def _choose(self, request: ChatRequest) -> tuple[str, RouteRecord]:
        label = self.classifier(request)
        if inspect.isawaitable(label):
            label = await label
        model, rule = self.pick(label)
        return model, RouteRecord(self.name, reason=f"{label.task}/{label.complexity} -> rule {rule!r}")

    async def complete(self, request: ChatRequest) -> ChatResponse:
        model, record = await self._choose(request)
        answer = await self.targets.complete(model, request)
        record.add(answer)
        return record.finish(answer, model)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        # Choosing needs only the prompt, so the chosen model's stream passes through live.
        model, record = await self._choose(request)
        async for event in self.targets.stream(model, request):
            if isinstance(event, StreamDone):
                record.add(event.response)
                event = StreamDone(record.finish(event.response, model))
            yield event

    async def aclose(self) -> None:
        await self.targets.aclose()
