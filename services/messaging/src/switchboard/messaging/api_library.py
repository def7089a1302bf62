"""The standard-response library ("/" in the compose bar), AI-enhanced compose and per-tenant features.

Administrators manage categories and templates; agents list categories with counts, search by prefix and
fill a template for one of their conversations (customer name, agent name, queue). AI compose returns a
suggestion only; it is off unless the tenant's ``ai_compose`` feature is on (403 ``feature-disabled``).
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from switchboard.messaging.api import ActorDep, TenantDep
from switchboard.messaging.domain import (
    MessagingError,
    ResponseChannel,
    ResponseTemplate,
    RewriteMode,
    Sender,
    category_counts,
    create_template,
    fill_template,
    prepare_text,
    require_feature,
    search_templates,
)
from switchboard.messaging.domain.policy import NotAssignedAgent, Role, authorize, require_role
from switchboard.messaging.domain.responses import MAX_CATEGORY_LENGTH
from switchboard.messaging.models import FeatureFlagRow, ResponseCategoryRow, ResponseTemplateRow
from switchboard.messaging.service import Messaging
from switchboard.messaging.store import conversation_row, participants
from switchboard.runtime.errors import Problem

AI_COMPOSE = "ai_compose"
FEATURES = (AI_COMPOSE,)


class CategoryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class TemplateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category_id: UUID
    shortcut: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=400)
    body: str = Field(min_length=1, max_length=16_000)
    channels: list[ResponseChannel] = Field(min_length=1, max_length=2)


class FillBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: UUID


class ComposeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=40_000)


class FeatureBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


def _fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def _template(row: ResponseTemplateRow, category: str) -> ResponseTemplate:
    return ResponseTemplate(
        id=row.id,
        category=category,
        shortcut=row.shortcut,
        title=row.title,
        body=row.body,
        channels=frozenset(ResponseChannel(c) for c in row.channels.split(",")),
        placeholders=frozenset(),
    )


def _template_view(template: ResponseTemplate, category_id: str) -> dict[str, Any]:
    return {
        "id": template.id,
        "category_id": category_id,
        "category": template.category,
        "shortcut": template.shortcut,
        "title": template.title,
        "body": template.body,
        "channels": sorted(c.value for c in template.channels),
    }


async def _library(session: AsyncSession, tenant: str) -> tuple[list[ResponseTemplate], dict[str, str]]:
    rows = (
        await session.execute(
            select(ResponseTemplateRow, ResponseCategoryRow.name)
            .join(ResponseCategoryRow, col(ResponseCategoryRow.id) == col(ResponseTemplateRow.category_id))
            .where(col(ResponseTemplateRow.tenant) == tenant)
        )
    ).all()
    templates = [_template(row, name) for row, name in rows]
    return templates, {row.id: row.category_id for row, _ in rows}


async def feature_enabled(m: Messaging, session: AsyncSession, tenant: str, feature: str) -> bool:
    row = await session.get(FeatureFlagRow, (tenant, feature))
    if row is None:
        return m.settings.ai_compose_default if feature == AI_COMPOSE else False
    return row.enabled


def create_library_router(m: Messaging) -> APIRouter:
    router = APIRouter()

    # -- categories --------------------------------------------------------------------------------

    @router.get(
        "/responses/categories", tags=["standard responses"], summary="Categories with template counts"
    )
    async def categories(
        actor: ActorDep, tenant: TenantDep, channel: ResponseChannel | None = None
    ) -> dict[str, Any]:
        require_role(actor, Role.AGENT, Role.ADMIN)

        async def work(session: AsyncSession) -> dict[str, Any]:
            stored = list(
                (
                    await session.scalars(
                        select(ResponseCategoryRow).where(col(ResponseCategoryRow.tenant) == tenant)
                    )
                ).all()
            )
            templates, _ = await _library(session, tenant)
            counts = {_fold(c.name): c.count for c in category_counts(templates, channel=channel)}
            items = [
                {"id": c.id, "name": c.name, "count": counts.get(c.folded_name, 0)}
                for c in sorted(stored, key=lambda c: c.folded_name)
            ]
            return {"categories": items}

        return await m.read(work)

    @router.post(
        "/responses/categories",
        status_code=status.HTTP_201_CREATED,
        tags=["standard responses"],
        summary="Create a category (admin)",
    )
    async def create_category(body: CategoryBody, actor: ActorDep, tenant: TenantDep) -> dict[str, Any]:
        require_role(actor, Role.ADMIN)
        name = _category_name(body.name)

        async def work(session: AsyncSession) -> ResponseCategoryRow:
            if await _category_by_name(session, tenant, name) is not None:
                raise Problem(409, "category-exists", detail=f"a category named {name!r} exists")
            row = ResponseCategoryRow(
                id=str(uuid.uuid4()), tenant=tenant, name=name, folded_name=_fold(name), created_at=m.now()
            )
            session.add(row)
            return row

        row = await m.write(work)
        return {"id": row.id, "name": row.name, "count": 0}

    @router.patch(
        "/responses/categories/{category_id}", tags=["standard responses"], summary="Rename (admin)"
    )
    async def rename_category(
        category_id: UUID, body: CategoryBody, actor: ActorDep, tenant: TenantDep
    ) -> dict[str, Any]:
        require_role(actor, Role.ADMIN)
        name = _category_name(body.name)

        async def work(session: AsyncSession) -> ResponseCategoryRow:
            row = await _category(session, tenant, str(category_id))
            clash = await _category_by_name(session, tenant, name)
            if clash is not None and clash.id != row.id:
                raise Problem(409, "category-exists", detail=f"a category named {name!r} exists")
            row.name, row.folded_name = name, _fold(name)
            return row

        row = await m.write(work)
        return {"id": row.id, "name": row.name}

    @router.delete(
        "/responses/categories/{category_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        tags=["standard responses"],
        summary="Delete an empty category (admin)",
    )
    async def delete_category(category_id: UUID, actor: ActorDep, tenant: TenantDep) -> Response:
        require_role(actor, Role.ADMIN)

        async def work(session: AsyncSession) -> None:
            row = await _category(session, tenant, str(category_id))
            used = await session.scalar(
                select(func.count()).where(col(ResponseTemplateRow.category_id) == row.id)
            )
            if used:
                raise Problem(
                    409, "category-not-empty", detail=f"the category still holds {used} template(s)"
                )
            await session.delete(row)

        await m.write(work)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    # -- templates ---------------------------------------------------------------------------------

    @router.get("/responses", tags=["standard responses"], summary="The library, or a '/' search")
    async def library(
        actor: ActorDep,
        tenant: TenantDep,
        q: Annotated[str, Query(max_length=200, description="What follows '/' in the compose bar")] = "",
        channel: ResponseChannel | None = None,
        category: Annotated[str | None, Query(max_length=MAX_CATEGORY_LENGTH)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        require_role(actor, Role.AGENT, Role.ADMIN)

        async def work(session: AsyncSession) -> dict[str, Any]:
            templates, categories_of = await _library(session, tenant)
            found = search_templates(templates, q, channel=channel, category=category, limit=limit)
            return {"templates": [_template_view(t, categories_of[t.id]) for t in found]}

        return await m.read(work)

    @router.post(
        "/responses/templates",
        status_code=status.HTTP_201_CREATED,
        tags=["standard responses"],
        summary="Create a template (admin)",
    )
    async def create(body: TemplateBody, actor: ActorDep, tenant: TenantDep) -> dict[str, Any]:
        require_role(actor, Role.ADMIN)
        return await _save(m, tenant, None, body)

    @router.put("/responses/templates/{template_id}", tags=["standard responses"], summary="Replace (admin)")
    async def replace(
        template_id: UUID, body: TemplateBody, actor: ActorDep, tenant: TenantDep
    ) -> dict[str, Any]:
        require_role(actor, Role.ADMIN)
        return await _save(m, tenant, str(template_id), body)

    @router.delete(
        "/responses/templates/{template_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        tags=["standard responses"],
        summary="Delete a template (admin)",
    )
    async def delete(template_id: UUID, actor: ActorDep, tenant: TenantDep) -> Response:
        require_role(actor, Role.ADMIN)

        async def work(session: AsyncSession) -> None:
            await session.delete(await _template_row(session, tenant, str(template_id)))

        await m.write(work)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/responses/templates/{template_id}/fill",
        tags=["standard responses"],
        summary="Fill a template for one of the agent's conversations (not sent)",
    )
    async def fill(template_id: UUID, body: FillBody, actor: ActorDep, tenant: TenantDep) -> dict[str, Any]:
        async def work(session: AsyncSession) -> dict[str, Any]:
            conversation = await conversation_row(session, str(body.conversation_id))
            if authorize(participants(conversation), actor) is not Sender.AGENT:
                raise NotAssignedAgent("standard responses are for the assigned agent")
            row = await _template_row(session, conversation.tenant, str(template_id))
            category = await session.get(ResponseCategoryRow, row.category_id)
            template = _template(row, category.name if category else "")
            filled = fill_template(
                template,
                {
                    "customer_name": conversation.customer_name,
                    "agent_name": conversation.agent_name,
                    "queue": conversation.queue_name,
                },
            )
            return {"template_id": row.id, "text": filled.text, "missing": list(filled.missing)}

        return await m.read(work)

    # -- AI compose --------------------------------------------------------------------------------

    @router.post(
        "/compose/{mode}", tags=["compose"], summary="Suggest a friendlier, formal or expanded draft"
    )
    async def compose(
        mode: RewriteMode, body: ComposeBody, actor: ActorDep, tenant: TenantDep
    ) -> dict[str, Any]:
        require_role(actor, Role.AGENT)

        async def enabled(session: AsyncSession) -> bool:
            return await feature_enabled(m, session, tenant, AI_COMPOSE)

        require_feature(await m.read(enabled), "AI-enhanced compose")
        # Card numbers are masked before the draft goes anywhere, a provider included.
        draft = prepare_text(body.text)
        suggestion = await m.compose.suggest(draft, mode)
        try:
            text = prepare_text(suggestion.text)
        except MessagingError as exc:
            raise Problem(
                502, "ai-provider-failed", detail=f"The suggestion was unusable: {exc.detail}"
            ) from exc
        return {"mode": mode.value, "suggestion": text, "source": suggestion.source}

    # -- features ----------------------------------------------------------------------------------

    @router.get("/admin/features", tags=["administration"], summary="The tenant's feature switches")
    async def features(actor: ActorDep, tenant: TenantDep) -> dict[str, Any]:
        require_role(actor, Role.ADMIN, Role.AGENT)

        async def work(session: AsyncSession) -> dict[str, bool]:
            return {f: await feature_enabled(m, session, tenant, f) for f in FEATURES}

        return {"tenant": tenant, "features": await m.read(work)}

    @router.put("/admin/features/{feature}", tags=["administration"], summary="Switch a feature (admin)")
    async def set_feature(
        feature: str, body: FeatureBody, actor: ActorDep, tenant: TenantDep
    ) -> dict[str, Any]:
        require_role(actor, Role.ADMIN)
        if feature not in FEATURES:
            raise Problem(404, "unknown-feature", detail=f"known features: {', '.join(FEATURES)}")

        async def work(session: AsyncSession) -> None:
            row = await session.get(FeatureFlagRow, (tenant, feature), with_for_update=True)
            if row is None:
                session.add(
                    FeatureFlagRow(tenant=tenant, feature=feature, enabled=body.enabled, updated_at=m.now())
                )
            else:
                row.enabled, row.updated_at = body.enabled, m.now()

        await m.write(work)
        return {"tenant": tenant, "feature": feature, "enabled": body.enabled}

    return router


def _category_name(name: str) -> str:
    try:
        cleaned = prepare_text(name, max_length=MAX_CATEGORY_LENGTH)
    except MessagingError as exc:
        raise Problem(422, "invalid-template", detail=f"category: {exc.detail}") from exc
    if "\n" in cleaned or "\t" in cleaned:
        raise Problem(422, "invalid-template", detail="category must be a single line")
    return cleaned


async def _category(session: AsyncSession, tenant: str, category_id: str) -> ResponseCategoryRow:
    row = await session.get(ResponseCategoryRow, category_id)
    if row is None or row.tenant != tenant:
        raise Problem(404, "category-not-found", detail=f"category {category_id} does not exist")
    return row


async def _category_by_name(session: AsyncSession, tenant: str, name: str) -> ResponseCategoryRow | None:
    query = select(ResponseCategoryRow).where(
        col(ResponseCategoryRow.tenant) == tenant, col(ResponseCategoryRow.folded_name) == _fold(name)
    )
    return await session.scalar(query)


async def _template_row(session: AsyncSession, tenant: str, template_id: str) -> ResponseTemplateRow:
    row = await session.get(ResponseTemplateRow, template_id)
    if row is None or row.tenant != tenant:
        raise Problem(404, "template-not-found", detail=f"template {template_id} does not exist")
    return row


async def _save(m: Messaging, tenant: str, template_id: str | None, body: TemplateBody) -> dict[str, Any]:
    async def work(session: AsyncSession) -> dict[str, Any]:
        category = await _category(session, tenant, str(body.category_id))
        template = create_template(
            template_id or str(uuid.uuid4()),
            category=category.name,
            shortcut=body.shortcut,
            title=body.title,
            body=body.body,
            channels=body.channels,
        )
        clash = await session.scalar(
            select(ResponseTemplateRow).where(
                col(ResponseTemplateRow.tenant) == tenant,
                col(ResponseTemplateRow.shortcut) == template.shortcut,
            )
        )
        if clash is not None and clash.id != template.id:
            raise Problem(409, "shortcut-taken", detail=f"/{template.shortcut} is used by another template")
        now: datetime = m.now()
        channels = ",".join(sorted(c.value for c in template.channels))
        if template_id is None:
            session.add(
                ResponseTemplateRow(
                    id=template.id,
                    tenant=tenant,
                    category_id=category.id,
                    shortcut=template.shortcut,
                    title=template.title,
                    body=template.body,
                    channels=channels,
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            row = await _template_row(session, tenant, template_id)
            row.category_id, row.shortcut, row.title = category.id, template.shortcut, template.title
            row.body, row.channels, row.updated_at = template.body, channels, now
        return _template_view(template, category.id)

    return await m.write(work)
