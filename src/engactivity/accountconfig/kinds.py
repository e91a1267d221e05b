"""The three kinds of configured entity: skills, users (agents) and agent groups. Pure.

Each kind is declared once: the fields a document may set, their types and ranges (the
annotation's ``description`` says in words what is allowed, for the 400 bodies), which
field is required, which must be unique among the account's entities that are not
deleted, and the fields a list answers by default (the reference's defaults). Every
entity also has ``id`` (the id the events carry), ``deleted``, and ``dateUpdated`` (set
by the server at each change). Validation, storage and the answers read these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, get_args

import msgspec

from engactivity.core.params import INT64_MAX, INT64_MIN

MAX_NAME_CHARS = 255
MAX_TEXT_CHARS = 4000
MAX_IDS = 10_000
INT32_MAX = 2**31 - 1

Id = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX, description="a 64-bit integer")]
Name = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_NAME_CHARS,
        description=f"a string of 1 to {MAX_NAME_CHARS} characters",
    ),
]
Text = Annotated[
    str,
    msgspec.Meta(
        max_length=MAX_TEXT_CHARS, description=f"a string of at most {MAX_TEXT_CHARS} characters"
    ),
]
Count = Annotated[
    int, msgspec.Meta(ge=0, le=INT32_MAX, description=f"an integer from 0 to {INT32_MAX}")
]
Order = Annotated[
    int,
    msgspec.Meta(
        ge=-INT32_MAX - 1,
        le=INT32_MAX,
        description=f"an integer from {-INT32_MAX - 1} to {INT32_MAX}",
    ),
]
Flag = Annotated[bool, msgspec.Meta(description="true or false")]
IdList = Annotated[
    list[Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]],
    msgspec.Meta(max_length=MAX_IDS, description=f"an array of at most {MAX_IDS} 64-bit integers"),
]
UserType = Annotated[int, msgspec.Meta(ge=0, le=2, description="0 (system), 1 (human) or 2 (bot)")]


class GroupRef(msgspec.Struct, frozen=True, rename="camel"):
    """A user's agent group (other keys, such as ``assignmentDate``, are ignored)."""

    agent_group_id: Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]


MemberOf = Annotated[
    GroupRef, msgspec.Meta(description='an object {"agentGroupId": <a 64-bit integer>}')
]
ManagerOf = Annotated[
    list[GroupRef],
    msgspec.Meta(
        max_length=MAX_IDS,
        description='an array of objects {"agentGroupId": <a 64-bit integer>}',
    ),
]


def _sorted_ids(ids: list[int]) -> list[int]:
    return sorted(set(ids))


def _sorted_groups(groups: list[dict[str, int]]) -> list[dict[str, int]]:
    return sorted({g["agentGroupId"]: g for g in groups}.values(), key=lambda g: g["agentGroupId"])


@dataclass(frozen=True)
class Field:
    name: str
    """The wire name."""
    annotation: Any
    required: bool = False
    normalize: Callable[[Any], Any] | None = None
    """Makes equal values equal JSON (id lists sorted, once each), so that sending the same
    entity again in another order changes nothing."""

    @property
    def allowed(self) -> str:
        return str(get_args(self.annotation)[1].description)

    def convert(self, value: object) -> object:
        """The value as stored (JSON types), or msgspec.ValidationError."""
        converted = msgspec.to_builtins(msgspec.convert(value, self.annotation))
        return converted if self.normalize is None else self.normalize(converted)


@dataclass(frozen=True)
class Kind:
    key: str
    """Its array in a document, and its path segment in the read endpoints."""
    noun: str
    id_param: str
    """The path parameter of one entity."""
    fields: tuple[Field, ...]
    unique: str
    """The field no two entities of an account that are not deleted may share (compared
    without regard to case)."""
    defaults: tuple[str, ...]
    """The fields of a list when the request has no ``select``."""

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def field_names(self) -> str:
        return ", ".join(["id", "deleted", *(f.name for f in self.fields)])


SKILLS = Kind(
    "skills",
    "skill",
    "skillId",
    (
        Field("name", Name, required=True),
        Field("description", Text),
        Field("skillOrder", Order),
        Field("maxWaitTime", Count),
    ),
    unique="name",
    defaults=("id", "deleted", "name"),
)
USERS = Kind(
    "users",
    "user",
    "userId",
    (
        Field("pid", Name),
        Field("loginName", Name, required=True),
        Field("fullName", Name),
        Field("nickname", Name),
        Field("email", Name),
        Field("employeeId", Name),
        Field("description", Text),
        Field("isEnabled", Flag),
        Field("userTypeId", UserType),
        Field("isApiUser", Flag),
        Field("maxChats", Count),
        Field("maxAsyncChats", Count),
        Field("skillIds", IdList, normalize=_sorted_ids),
        Field("memberOf", MemberOf),
        Field("managerOf", ManagerOf, normalize=_sorted_groups),
    ),
    unique="loginName",
    defaults=("id", "pid", "deleted", "loginName"),
)
AGENT_GROUPS = Kind(
    "agentGroups",
    "agent group",
    "agentGroupId",
    (
        Field("name", Name, required=True),
        Field("description", Text),
        Field("parentGroupId", Id),
        Field("isEnabled", Flag),
    ),
    unique="name",
    defaults=("id", "deleted", "name"),
)
KINDS = (SKILLS, USERS, AGENT_GROUPS)
KIND_BY_KEY = {kind.key: kind for kind in KINDS}

READ_ONLY = frozenset({"dateUpdated"})
"""Fields an answer has that a document may carry back (an exported entity) and that
are ignored there."""
