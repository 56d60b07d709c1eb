"""Platform activity: sign-ups by role, verification rate, chat activity."""
from __future__ import annotations

import pandas as pd

from dashboards.periods import bucket

ROLES = ("learner", "mentor", "admin")


def signups_by_role(user_roles: pd.DataFrame, period: str = "day") -> pd.DataFrame:
    """One row per period with a column per role; `user_roles` has one row per (user_id, role, created_at)."""
    if user_roles.empty:
        return pd.DataFrame(columns=["period", *ROLES])
    frame = user_roles.assign(period=bucket(user_roles["created_at"], period))
    table = frame.pivot_table(index="period", columns="role", values="user_id", aggfunc="nunique", fill_value=0)
    for role in ROLES:
        if role not in table.columns:
            table[role] = 0
    table = table[list(ROLES)].astype("int64").reset_index()
    table.columns.name = None
    return table


def verification_rate(users: pd.DataFrame) -> dict:
    """Share of users with e-mail and phone verified; `users` has `email_verified` and `phone_verified` booleans."""
    total = len(users)
    email = int(users["email_verified"].astype(bool).sum()) if total else 0
    both = int((users["email_verified"].astype(bool) & users["phone_verified"].astype(bool)).sum()) if total else 0
    return {"users": total, "email_verified": email, "verified": both,
            "rate": (both / total) if total else None}


def chat_activity(messages: pd.DataFrame, period: str = "day") -> pd.DataFrame:
    """Per period: messages in direct and public rooms, and distinct senders; `messages` has created_at, room_kind, sender_id."""
    columns = ["period", "direct", "public", "messages", "senders"]
    if messages.empty:
        return pd.DataFrame(columns=columns)
    frame = messages.assign(period=bucket(messages["created_at"], period))
    kinds = frame.pivot_table(index="period", columns="room_kind", values="sender_id", aggfunc="size", fill_value=0)
    for kind in ("direct", "public"):
        if kind not in kinds.columns:
            kinds[kind] = 0
    table = kinds[["direct", "public"]].astype("int64")
    table["messages"] = table["direct"] + table["public"]
    table["senders"] = frame.groupby("period")["sender_id"].nunique().astype("int64")
    table = table.reset_index()
    table.columns.name = None
    return table[columns]
