"""Alert rules (``/v2/alertRules``): a metric, an operator, a threshold, a window, a scope,
a severity and the webhooks to notify."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from callquality.api.responses import OrjsonResponse
from callquality.api.routes._common import ERRORS, now_ms, state
from callquality.api.routes.webhooks import tenant_admin
from callquality.domain.alerts import METRICS, OPERATORS, SCOPES, SEVERITIES, Rule
from callquality.domain.timefmt import iso_ms
from callquality.service import alerts as service
from callquality.tokens import Claims

router = APIRouter(responses=ERRORS, tags=["alerts"])


def rule_json(rule: Rule) -> dict[str, Any]:
    """A rule as the API shows it."""
    return {
        "id": rule.rule_id,
        "name": rule.name,
        "metric": rule.metric,
        "operator": rule.operator,
        "threshold": rule.threshold,
        "windowS": rule.window_s or None,
        "hysteresis": rule.hysteresis,
        "scope": rule.scope,
        "roomId": rule.room_id,
        "participantId": rule.participant_id,
        "severity": rule.severity,
        "webhookIds": list(rule.endpoint_ids),
        "enabled": rule.enabled,
        "createdAt": iso_ms(rule.created_ms),
        "updatedAt": iso_ms(rule.updated_ms),
    }


class RuleBody(BaseModel):
    """Every field is checked by the service, which names the field in its 400."""

    model_config = ConfigDict(extra="forbid")
    name: Any = Field(None, description="a label, at most 200 characters")
    metric: Any = Field(None, description="one of " + ", ".join(METRICS))
    operator: Any = Field(None, description="one of " + ", ".join(OPERATORS))
    threshold: Any = Field(None, description="in the metric's unit (docs/webhooks.md)")
    windowS: Any = Field(None, description="seconds of samples judged together, 5-3600 "
                         "(default 30; not used by noStatsS)")
    hysteresis: Any = Field(None, description="how far back past the threshold the value must "
                            "go to resolve (default 5 % of the threshold)")
    scope: Any = Field(None, description="one of " + ", ".join(SCOPES) + " (default all)")
    roomId: Any = None
    participantId: Any = None
    severity: Any = Field(None, description="one of " + ", ".join(SEVERITIES))
    webhookIds: Any = Field(None, description="webhooks to notify; none: every webhook "
                            "that takes quality-alert")
    enabled: Any = None


def _given(body: RuleBody) -> dict[str, Any]:
    return {name: getattr(body, name) for name in body.model_fields_set}


@router.post("/v2/alertRules", status_code=201)
def create_rule(
    request: Request, body: RuleBody, caller: Annotated[Claims, Depends(tenant_admin)]
) -> Any:
    """Create a rule; it applies to the reports that arrive from then on."""
    given = {k: v for k, v in _given(body).items() if v is not None}
    rule = service.create_rule(state(request).engine, caller.api_key, given, now_ms())
    return OrjsonResponse(rule_json(rule), status_code=201)


@router.get("/v2/alertRules")
def list_rules(request: Request, caller: Annotated[Claims, Depends(tenant_admin)]) -> Any:
    """The API key's rules."""
    found = service.list_rules(state(request).engine, caller.api_key)
    return OrjsonResponse({"data": [rule_json(r) for r in found]})


@router.get("/v2/alertRules/{ruleId}")
def get_rule(
    request: Request, ruleId: str, caller: Annotated[Claims, Depends(tenant_admin)]
) -> Any:
    """One rule."""
    return OrjsonResponse(rule_json(service.get_rule(state(request).engine, caller.api_key,
                                                     ruleId)))


@router.patch("/v2/alertRules/{ruleId}")
def change_rule(
    request: Request, ruleId: str, body: RuleBody,
    caller: Annotated[Claims, Depends(tenant_admin)],
) -> Any:
    """Change some fields of a rule."""
    rule = service.update_rule(state(request).engine, caller.api_key, ruleId, _given(body),
                               now_ms())
    return OrjsonResponse(rule_json(rule))


@router.delete("/v2/alertRules/{ruleId}", status_code=204)
def delete_rule(
    request: Request, ruleId: str, caller: Annotated[Claims, Depends(tenant_admin)]
) -> Response:
    """Delete a rule (its firing alerts are not resolved: they stop being judged)."""
    service.delete_rule(state(request).engine, caller.api_key, ruleId)
    return Response(status_code=204)
