"""The workflow spec format: one YAML file per handbook workflow.

A spec is data (django-viewflow's declared flows): the engine walks its steps,
its windows (``workflow.windows``) resolve on the 校历, the importer writes it from the handbook.
Validation errors name the file, the step and the field.
"""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workflow.windows import Window

StepKind = Literal["notice", "confirm", "upload", "approve", "form", "task"]
Category = Literal["教学运行", "实践教学", "教学研究", "教学质量"]
# Who a step goes to. 教务处: the run's owner in 教务处 (or every 教务处 staff member
# when the run was started by someone else; the first one to act closes it).
# 系部: fan out to each 系部 of the run. 通识教育部: that department only.
# 发起人: whoever started the run. 分管领导: the 教务处分管领导.
# 代课教师: the person the starter's form names in ``answer`` (the 代课 request's substitute).
Party = Literal["教务处", "系部", "通识教育部", "发起人", "分管领导", "代课教师"]
Role = Literal["教务处", "教务处分管领导", "系部主任", "教学秘书", "辅导员", "任课教师", "教研室主任"]

_STEP_ID = re.compile(r"^[a-z][a-z0-9_]*$")
LABEL_MAX = 10  # characters: a step's label fits a card's title line


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Assignee(_Strict):
    party: Party
    # Within a 系部 / 通识教育部: which role does the work (default 教学秘书).
    # With party 发起人 it names a role in the starter's 系部 instead (e.g. 系部主任).
    role: Role | None = None
    # For 系部: every 系部 of the run ("all"), the starter's 系部 ("starter"), or the
    # 系部 of the run's subject, e.g. the class in a 调停课 ("subject").
    scope: Literal["all", "starter", "subject"] = "all"
    # With party 代课教师: the start form's answer that names the person ({userid, name, …}).
    answer: str | None = None

    @model_validator(mode="after")
    def _named(self) -> "Assignee":
        if (self.party == "代课教师") != bool(self.answer):
            raise ValueError("party 为 代课教师 时必须写 answer（且只有它可以写）")
        return self


class Condition(_Strict):
    """A step is needed only when the start form's ``answer`` is one of ``equals`` (e.g. type 代课)."""

    answer: str
    equals: list[str] = Field(min_length=1)

    def holds(self, data: dict) -> bool:
        return str((data.get("form") or {}).get(self.answer, "")) in self.equals


class Step(_Strict):
    id: str
    title: str = Field(min_length=1)  # the handbook's words: the step's description, never a card's instruction
    # What cards, 进度 and messages call the step: a short action in the reader's voice (系部主任审批).
    label: str = Field(min_length=2, max_length=LABEL_MAX)
    owner: str = Field(min_length=1)  # the handbook's owner text, e.g. 教务处、系部
    kind: StepKind
    assignees: list[Assignee] = Field(min_length=1)
    # all: every 系部 (and 教务处, when both are named) must finish; any: the first one closes it.
    join: Literal["all", "any"] = "all"
    deadline_days: int | None = Field(default=None, ge=0)  # calendar days after the step opens
    form: str | None = None  # kind form: name of a registered Python form
    handler: str | None = None  # name of a registered data handler for this step
    columns: list[str] | None = None  # upload: required spreadsheet columns (every cell filled)
    # upload: columns the template offers that may be blank or left out (说明, 晚自习课时)
    optional_columns: list[str] = Field(default_factory=list)
    accept: list[Literal["image", "xlsx", "xls", "csv", "pdf", "doc", "docx", "zip"]] | None = None
    templates: dict[str, str] = Field(default_factory=dict)  # e.g. {card: "x/card.yaml.j2"}
    # confirm: what 有异议 does. note: 教务处 is told and the person's part is done;
    # thread: 教务处 answers 已更正 (the person confirms again) or 维持, and the step waits until then.
    disputes: Literal["note", "thread"] = "note"
    note: str | None = None  # why an owner or kind was chosen where the handbook is silent; never shown to users
    # Not in the handbook: a step the college added (the importer's comparison leaves it out).
    added: bool = False
    # Only for some requests: when it does not hold, the step's tasks are marked not_needed.
    when: Condition | None = None
    # Who else hears of a 驳回 at this step (the starter always does), e.g. the 系部主任.
    tell_on_reject: list[Assignee] = Field(default_factory=list)
    # What a decision is called once made, where the usual words do not fit, e.g. {reject: 无法代课}.
    labels: dict[str, str] = Field(default_factory=dict)

    def needed(self, data: dict) -> bool:
        return self.when is None or self.when.holds(data)

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _STEP_ID.match(v):
            raise ValueError("步骤 id 只能用小写字母、数字和下划线，且以字母开头")
        return v

    @field_validator("label")
    @classmethod
    def _short_action(cls, v: str) -> str:
        if re.search(r"[，。；：,.;:（）()\s]", v):
            raise ValueError("label 是简短的动作（如“系部主任审批”），不要标点和空格")
        return v

    @model_validator(mode="after")
    def _kind_fields(self) -> "Step":
        if self.kind == "form" and not self.form:
            raise ValueError("kind 为 form 的步骤必须写 form")
        if self.columns and self.kind != "upload":
            raise ValueError("只有 upload 步骤可以写 columns")
        if self.optional_columns and not self.columns:
            raise ValueError("写了 optional_columns 的步骤也必须写 columns（必填列）")
        both = set(self.optional_columns) & set(self.columns or [])
        if both:
            raise ValueError(f"列 {'、'.join(sorted(both))} 不能既必填又选填")
        if self.disputes == "thread" and self.kind != "confirm":
            raise ValueError("只有 confirm 步骤可以写 disputes: thread")
        return self

    def sheet_columns(self) -> list[str]:
        """Every column of the step's sheet, required first: the template's and the merged sheet's header."""
        return list(self.columns or []) + list(self.optional_columns)


class SubFlow(_Strict):
    id: str
    name: str
    steps: list[Step] = Field(min_length=1)


class WorkflowSpec(_Strict):
    code: str
    name: str
    category: Category
    owner: Role = "教务处"  # who in 教务处 owns the workflow (gets window reminders)
    starters: list[Role] = ["教务处"]  # who may start a run in chat
    time: str = ""  # the handbook's 时间 text, verbatim
    content: str = ""  # 工作内容
    windows: list[Window] = Field(min_length=1)
    steps: list[Step] = Field(default_factory=list)
    flows: list[SubFlow] = Field(default_factory=list)  # branches, e.g. 1.7 补考 / 期末考试
    standards: list[str] = Field(default_factory=list)  # 工作标准, shown as a checklist
    aliases: list[str] = Field(default_factory=list)  # words that start it in chat, e.g. 调课
    # A Python form the starter fills in before the first step (the 调停课 application).
    start_form: str | None = None
    notify_starter: bool = False  # tell the starter about every step (调停课: the teacher)

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        if not re.match(r"^[1-9]\.[0-9]{1,2}$", v):
            raise ValueError(f"编号应形如 1.4，而不是 {v!r}")
        return v

    @model_validator(mode="after")
    def _shape(self) -> "WorkflowSpec":
        if bool(self.steps) == bool(self.flows):
            raise ValueError("steps 与 flows 必须二选一（有分支时写 flows）")
        for flow in self.flows:
            _unique_ids(flow.steps, f"flows.{flow.id}")
        _unique_ids(self.steps, "steps")
        return self

    def all_flows(self) -> list[SubFlow]:
        """The workflow as a list of flows (a single unnamed one when it has no branches)."""
        return self.flows or [SubFlow(id="main", name=self.name, steps=self.steps)]

    def flow(self, flow_id: str) -> SubFlow:
        for f in self.all_flows():
            if f.id == flow_id:
                return f
        raise KeyError(flow_id)


def _unique_ids(steps: list[Step], where: str) -> None:
    seen: set[str] = set()
    for step in steps:
        if step.id in seen:
            raise ValueError(f"{where}: 步骤 id {step.id!r} 重复")
        seen.add(step.id)


def code_key(code: str) -> tuple[int, ...]:
    """Sort key for workflow codes, so 1.9 comes before 1.10; a code that is not numbers sorts last."""
    parts = code.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else (10**6,)
