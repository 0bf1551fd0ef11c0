from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, put
from litestar.params import JSONBody

from wallet import clock, db
from wallet.auth.guards import allow
from wallet.http import errors, principal
from wallet.platform import service as platform
from wallet.rules import service
from wallet.rules.schemas import Rules, RulesHistory, RulesIn


class RulesController(Controller):
    path = "/api/v1/admin/rules"
    tags = ["admin: program rules"]

    @get(
        operation_id="getRules",
        summary="The rules in force now, and every version",
        guards=[allow("admin", "support", "marketer")],
        responses=errors(),
    )
    async def get_rules(self) -> RulesHistory:
        now = clock.now()
        current = await service.rules_at(now)
        return RulesHistory(current=current, versions=await service.versions())

    @put(
        operation_id="putRules",
        summary="Set new rules, effective from a time (now if omitted)",
        description="Fields left out keep their current value. Versions are kept: receipts "
        "are priced by the version in force at their occurred_at.",
        guards=[allow("admin")],
        responses=errors(400, 422),
    )
    async def put_rules(self, request: Request[Any, Any, Any], data: JSONBody[RulesIn]) -> Rules:
        who = principal(request)
        now = clock.now()
        async with db.write_transaction():
            rules = await service.put_rules(data, actor=who.actor, now=now)
            await platform.audit(
                actor=who.actor,
                action="rules.put",
                subject=f"rules:{rules.id}",
                details={"effective_from": rules.effective_from.isoformat()},
            )
        return rules
