"""AI-enhanced compose: the built-in local rewrite, or an OpenAI-compatible endpoint when configured.

The provider only suggests; nothing here sends a message. A failing provider is a clear refusal
(``ai-provider-failed`` 502, ``ai-provider-timeout`` 504), never a silent fallback to another text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from switchboard.messaging.domain import RewriteMode, rewrite
from switchboard.runtime.errors import Problem
from switchboard.runtime.logs import get_logger

log = get_logger(__name__)

MAX_SUGGESTION_CHARS = 10_000

INSTRUCTIONS: dict[RewriteMode, str] = {
    RewriteMode.FRIENDLIER: (
        "Rephrase the contact-centre agent's draft reply to be more friendly and informal. Keep every "
        "fact, date, time, number and negation. Answer with the rewritten reply only."
    ),
    RewriteMode.FORMAL: (
        "Rephrase the contact-centre agent's draft reply to be more formal. Keep every fact, date, time, "
        "number and negation. Answer with the rewritten reply only."
    ),
    RewriteMode.EXPAND: (
        "Expand the contact-centre agent's draft reply into a fuller, polite message. Keep every fact, "
        "date, time, number and negation; add no new facts. Answer with the rewritten reply only."
    ),
}


@dataclass(frozen=True, slots=True)
class Suggestion:
    text: str
    source: str  # "local" or the provider's model name


class ComposeProvider(Protocol):
    async def suggest(self, text: str, mode: RewriteMode) -> Suggestion: ...


class LocalCompose:
    """The domain's deterministic rule-based rewrites (the feature flag is checked by the caller)."""

    async def suggest(self, text: str, mode: RewriteMode) -> Suggestion:
        return Suggestion(rewrite(text, mode, enabled=True), "local")


class OpenAICompatibleCompose:
    """``POST {base_url}/chat/completions`` with a bearer key, one short completion per suggestion."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: SecretStr | None,
        model: str,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.api_key = api_key
        self.model = model
        self.timeout = timeout
        self.transport = transport

    async def suggest(self, text: str, mode: RewriteMode) -> Suggestion:
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": INSTRUCTIONS[mode]},
                {"role": "user", "content": text},
            ],
            "temperature": 0.3,
        }
        headers = {"Accept": "application/json"}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        try:
            # A client per suggestion: compose is rare, and nothing is left open at shutdown.
            async with httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout), transport=self.transport, follow_redirects=False
            ) as client:
                response = await client.post(self.url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            log.warning("AI provider timed out", mode=mode.value, error=type(exc).__name__)
            raise Problem(
                504, "ai-provider-timeout", detail="The AI provider did not answer in time; try again."
            ) from exc
        except httpx.HTTPError as exc:
            log.warning("AI provider unreachable", mode=mode.value, error=type(exc).__name__)
            raise Problem(502, "ai-provider-failed", detail="The AI provider could not be reached.") from exc
        if response.status_code != 200:
            log.warning("AI provider refused", mode=mode.value, status=response.status_code)
            raise Problem(
                502,
                "ai-provider-failed",
                detail=f"The AI provider answered with status {response.status_code}.",
                provider_status=response.status_code,
            )
        suggestion = _completion_text(response)
        if suggestion is None:
            log.warning("AI provider answer unreadable", mode=mode.value)
            raise Problem(502, "ai-provider-failed", detail="The AI provider's answer could not be read.")
        return Suggestion(suggestion, self.model)


def _completion_text(response: httpx.Response) -> str | None:
    try:
        payload: Any = response.json()
        content = payload["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    if not isinstance(content, str) or not content.strip() or len(content) > MAX_SUGGESTION_CHARS:
        return None
    return content.strip()
