"""How a case page presents a case to one member of staff: the actions this member may take in this state (the
same role rules as the REST routes in ``api/case_routes.py``), and the case's log as a readable timeline."""

from __future__ import annotations

from typing import Any

from ..domain.cases import STATUS_ZH, CaseStatus
from ..services.staff import StaffMember

# Roles per action, mirroring api/case_routes.py (WINDOW, BACK_OFFICE and the issuance actions).
_WINDOW = ("window_staff", "supervisor", "approver")
_BACK_OFFICE = ("approver", "supervisor")
_ISSUANCE = ("window_staff", "supervisor")
_ROLES: dict[str, tuple[str, ...]] = {
    "accept": _WINDOW, "accept-with-deficiency": _WINDOW, "request-correction": _WINDOW, "resubmit": _WINDOW,
    "reject": _WINDOW, "decide-now": _WINDOW, "supply": _WINDOW,
    "decide": _BACK_OFFICE, "suspend": _BACK_OFFICE, "resume": _BACK_OFFICE,
    "withdraw": _ISSUANCE, "issuance-ticket": _ISSUANCE, "hand-over": _ISSUANCE, "courier": _ISSUANCE,
    "invite": _ISSUANCE,
}


def _by_state(case: dict[str, Any]) -> list[str]:
    status = case["status"]
    if status == "received":
        first = ["decide-now"] if case.get("kind") == "immediate" else ["accept", "accept-with-deficiency"]
        return [*first, "request-correction", "reject", "withdraw"]
    if status == "correction":
        return ["resubmit", "withdraw"]
    if status == "accepted":
        supply = ["supply"] if case.get("deficiency") and not case["deficiency"].get("supplied_at") else []
        return ["decide", "suspend", *supply, "withdraw"]
    if status == "suspended":
        return ["resume"]
    if status == "ready":
        return ["issuance-ticket", "hand-over", "courier", "invite"]
    if status in ("issued", "rejected"):
        return ["invite"]
    return []


def permitted_actions(case: dict[str, Any], member: StaffMember | None) -> set[str]:
    """The buttons to show: allowed in this state and for this member's roles (None: authorisation is off)."""
    names = _by_state(case)
    if member is None or member.has("admin"):
        return set(names)
    allowed = {n for n in names if member.has(*_ROLES[n])}
    if "invite" in allowed and member.has("window_staff") and not member.has("supervisor") \
            and case.get("window_id") and case["window_id"] not in member.windows:
        allowed.discard("invite")  # only the window that served the case asks for its rating
    return allowed


ACTION_ZH = {
    "intake": "收件登记", "notice": "出具通知书", "accept": "受理", "accept_with_deficiency": "容缺受理",
    "request_correction": "补齐补正（一次性告知）", "resubmit": "补正材料已提交", "reject": "不予受理",
    "decide_now": "当场办结", "supply": "容缺材料已补齐", "approve": "准予", "deny": "不予准予",
    "suspend": "特别程序（暂停计时）", "resume": "恢复计时", "reassign": "改派承办人",
    "issuance_ticket": "取出件号", "hand_over": "窗口出件", "courier": "快递送达", "withdraw": "撤回",
    "evaluation": "请求评价", "assign": "分派承办人",
}
_DETAIL_ZH = {
    "number": "编号", "kind": "类别", "ticket_id": "排队号ID", "window_id": "窗口", "reasons": "理由",
    "legal_basis": "依据", "procedure": "程序", "reason": "原因", "supply_by": "补齐期限", "receiver": "领取人",
    "proxy": "代领", "carrier": "快递公司", "tracking_number": "快递单号", "method": "方式", "assignee": "承办人",
    "due_on": "办结期限", "names": "材料", "missing": "缺少", "item_id": "事项", "department": "部门",
    "item": "事项", "source": "来源", "materials": "收件情况", "approved": "准予", "title": "通知书",
    "evaluation": "评价", "token": "评价码", "at": "时间", "by": "经办人",
}
_VALUE_ZH = {"window": "窗口", "courier": "快递", "online": "网上申报",
             "hearing": "听证", "testing": "检验检测", "expert_review": "专家评审", "other": "其他特别程序",
             "acceptance": "受理通知书", "correction": "补正通知书", "rejection": "不予受理通知书",
             "decision": "决定书", "deficiency": "容缺受理通知书", "original": "已收原件", "copy": "已收复印件",
             "missing": "缺", "e_licence": "电子证照共享"}


def _status_zh(value: str | None) -> str:
    if not value:
        return ""
    try:
        return STATUS_ZH[CaseStatus(value)]
    except ValueError:
        return value


def _value(v: Any) -> str:
    if isinstance(v, list):
        return "；".join(_value(x) for x in v)
    if isinstance(v, dict):
        return "，".join(f"{_DETAIL_ZH.get(k, k)}：{_value(x)}" for k, x in v.items())
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, str):
        return _VALUE_ZH.get(v, v)
    return str(v)


def timeline_entry(h: dict[str, Any], item_names: dict[str, str] | None = None) -> dict[str, Any]:
    """One log row in words: what happened, the state change, who did it, and the details as 'label：value'
    (an item id as the item's name)."""
    frm, to = _status_zh(h.get("from")), _status_zh(h.get("to"))
    detail = dict(h.get("detail") or {})
    detail.pop("token", None)  # a rating token is the citizen's, never shown to staff
    for key in ("item", "item_id"):
        if isinstance(detail.get(key), str) and item_names:
            detail[key] = item_names.get(detail[key], detail[key])
    return {"at": h.get("at"), "what": ACTION_ZH.get(h.get("action") or "", h.get("action") or ""),
            "change": f"{frm} → {to}" if frm and to and frm != to else (to if not frm else ""),
            "actor": h.get("actor") or "",
            "details": [(_DETAIL_ZH.get(k, k), _value(v)) for k, v in (h.get("detail") or {}).items()
                        if v not in (None, "", [], {})]}
