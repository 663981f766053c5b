"""Multi-question forms in chat: one question at a time, validated, with a
summary to confirm and a way to correct any answer. State lives in the
conversation row, so a restart mid-form resumes at the same question.

A form's prompts and errors are macros in ``messages/forms/<name>.j2``:
``ask_<key>``, ``err_<code>``, ``answer_rows`` (one "label<TAB>value" line per active
question, in question order: the summary, and the words accepted after 修改),
``summary`` and ``confirm_help``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from bot.context import Context
from bot.router import Router


class Invalid(Exception):
    """An answer was not accepted; ``code`` names the err_ macro that explains why."""

    def __init__(self, code: str, **values):
        super().__init__(code)
        self.code = code
        self.values = values


class Reply(Exception):
    """Not an answer yet: say ``text`` (already rendered) and stay on the question.

    ``pending`` (what was understood so far) is kept in the conversation row and handed to
    the question's ``resume`` with the next message, so an ask-back survives a restart.
    """

    def __init__(self, text: str, pending: dict | None = None):
        super().__init__(text)
        self.text = text
        self.pending = pending


Parser = Callable[[Context, str, dict], Awaitable[Any]]
Resumer = Callable[[Context, str, dict, dict | None], Awaitable[Any]]


@dataclass
class Question:
    key: str
    parse: Parser
    when: Callable[[dict], bool] = lambda answers: True
    # For questions that ask back (raise Reply): called instead of ``parse``, with the kept draft.
    resume: Resumer | None = None
    # Said before the next question once the answer is taken, e.g. the day read back in full.
    echo: Callable[[Context, Any], str] | None = None
    # Answers this one was given in terms of (调整后地点 "不变" means the 原地点): when one of them
    # changes, this answer is dropped and asked again.
    depends_on: tuple[str, ...] = ()


@dataclass
class Form:
    name: str
    questions: list[Question]
    finish: Callable[[Context, dict], Awaitable[None]]
    # Answers already given by the words that started the form (调课 already says the type).
    initial: Callable[[str], dict] = field(default=lambda words: {})
    # What a whole sentence already says ("下周三要开会，想调一下课"): (answers, a line echoing it).
    # Questions it half answers get a draft under answers["drafts"][key], handed to their ``resume``.
    prefill: Callable[[Context, str, dict], Awaitable[tuple[dict, str]]] | None = None
    # Recomputes derived answers (kept under ``derived`` keys) before each question or the summary.
    check: Callable[[Context, dict], Awaitable[dict]] | None = None
    derived: tuple[str, ...] = ()

    @property
    def template(self) -> str:
        return f"forms/{self.name}.j2"

    def pending(self, answers: dict) -> Question | None:
        for q in self.questions:
            if q.when(answers) and q.key not in answers:
                return q
        return None

    def active(self, answers: dict) -> list[Question]:
        return [q for q in self.questions if q.when(answers)]

    def dependents(self, key: str) -> set[str]:
        """Every question that depends on ``key``, directly or through another."""
        found: set[str] = set()
        todo = [key]
        while todo:
            k = todo.pop()
            for q in self.questions:
                if k in q.depends_on and q.key not in found:
                    found.add(q.key)
                    todo.append(q.key)
        return found


@dataclass
class Fill:
    """A parsed answer that also fills other questions (a picked meeting fills 课程, 班级, 原时间…)."""

    value: Any
    others: dict = field(default_factory=dict)


router = Router("forms")
FORMS: dict[str, Form] = {}
CONFIRM_WORDS = {"确认", "提交", "确定", "是"}
DRAFTS = "drafts"  # answers["drafts"][question key]: what the opening sentence said towards that question


def summary_rows(ctx: Context, form: Form, answers: dict) -> list[tuple[str, str]]:
    """The answers as (label, value) rows, worded by the form's template."""
    text = ctx.render.macro(form.template, "answer_rows", answers=answers, person=ctx.person)
    return [tuple(line.split("\t", 1)) for line in text.splitlines() if "\t" in line]  # type: ignore[misc]


def register_form(form: Form) -> Form:
    FORMS[form.name] = form
    return form


async def start_form(ctx: Context, name: str, answers: dict | None = None, sentence: str = "", *,
                     origin: int | None = None, prefix: str = "") -> None:
    """Open the form. ``sentence`` (the words that started it) may already answer some questions;
    ``origin``: the 驳回 run this one resubmits; it reaches ``finish`` as ``answers["resubmit_of"]``."""
    form = FORMS[name]
    answers = dict(answers or {})
    if sentence and form.prefill is not None:
        answers, said = await form.prefill(ctx, sentence, answers)
        prefix = "\n".join(x for x in (prefix, said) if x)
    await ctx.begin("form", "ask", {"form": name, "answers": answers, "editing": None, "origin": origin})
    await ask_next(ctx, form, answers, prefix=prefix)


async def _from_draft(ctx: Context, form: Form, q: Question, answers: dict, lead: str,
                      origin: int | None) -> tuple[dict, str] | None:
    """A question half answered by the opening sentence: settle it from its draft, or ask only what is missing.

    Returns (answers, echo) when settled; None when a question was asked (the draft is kept as pending).
    """
    drafts = dict(answers.get(DRAFTS) or {})
    draft = drafts.pop(q.key)
    answers = {**answers, DRAFTS: drafts}
    try:
        value = await q.resume(ctx, "", answers, draft)  # type: ignore[misc]
    except Reply as asked:
        await ctx.set_state("ask", {"form": form.name, "answers": answers, "editing": None, "key": q.key,
                                    "pending": asked.pending, "origin": origin})
        await ctx.reply_text(lead + asked.text)
        return None
    except Invalid:
        return answers, ""  # the sentence's reading does not fit: the question is asked as usual
    return _take(ctx, form, q, value, answers)


def _take(ctx: Context, form: Form, q: Question, value: Any, answers: dict) -> tuple[dict, str]:
    """Store an answer (and what it fills); ask again what depended on a changed answer; drop answers
    that no longer apply. Returns (answers, echo)."""
    before = dict(answers)
    answers = dict(answers)
    if isinstance(value, Fill):
        answers.update(value.others)
        value = value.value
    answers[q.key] = value
    # An answer given in terms of a changed one no longer means what was meant: ask it again.
    changed = [k for k in answers if k in before and before[k] != answers[k]]
    stale = set().union(*(form.dependents(k) for k in changed)) - {q.key}
    answers = {k: v for k, v in answers.items() if k not in stale}
    echo = q.echo(ctx, value) if q.echo is not None else ""
    kept = {k: v for k, v in answers.items()
            if k in form.derived or k == DRAFTS or any(x.key == k for x in form.active(answers))}
    return kept, echo


async def ask_next(ctx: Context, form: Form, answers: dict, editing: str | None = None, prefix: str = "") -> None:
    if form.check is not None:
        answers = await form.check(ctx, answers)
    q = next((x for x in form.questions if x.key == editing), None) if editing else form.pending(answers)
    lead = prefix + "\n" if prefix else ""
    origin = (ctx.conversation.data if ctx.conversation else {}).get("origin")
    if q is not None and not editing and q.resume is not None and q.key in (answers.get(DRAFTS) or {}):
        settled = await _from_draft(ctx, form, q, answers, lead, origin)
        if settled is not None:
            answers, echo = settled
            await ask_next(ctx, form, answers, prefix="\n".join(x for x in (prefix, echo) if x))
        return
    if q is not None:
        await ctx.set_state("ask", {"form": form.name, "answers": answers, "editing": editing, "key": q.key,
                                    "origin": origin})
        await ctx.reply_text(lead + ctx.render.macro(form.template, f"ask_{q.key}", answers=answers,
                                                     person=ctx.person, editing=bool(editing)))
        return
    await ctx.set_state("confirm", {"form": form.name, "answers": answers, "editing": None, "origin": origin})
    await ctx.reply_text(lead + ctx.render.macro(form.template, "summary", rows=summary_rows(ctx, form, answers),
                                                 answers=answers, person=ctx.person))


@router.conversation("form")
async def on_form_message(ctx: Context) -> None:
    conv = ctx.conversation
    data = dict(conv.data)
    form = FORMS[data["form"]]
    answers = dict(data.get("answers", {}))
    if ctx.event.kind != "text":
        await ctx.reply_text(ctx.render.macro(form.template, "err_text_only", person=ctx.person))
        return
    text = ctx.text
    if conv.state == "confirm":
        if text in CONFIRM_WORDS:
            await ctx.end()
            if data.get("origin"):
                answers["resubmit_of"] = data["origin"]
            await form.finish(ctx, answers)
            return
        if text.startswith("修改"):
            target = text[2:].strip()
            active = form.active(answers)
            rows = summary_rows(ctx, form, answers)
            labels = [label for label, _ in rows]
            q = None
            if target.isdigit() and 1 <= int(target) <= len(active):
                q = active[int(target) - 1]
            elif target in labels and labels.index(target) < len(active):
                q = active[labels.index(target)]
            else:
                q = next((x for x in active if x.key == target), None)
            if q is None:
                await ctx.reply_text(ctx.render.macro(form.template, "confirm_help", rows=rows,
                                                      bad_target=target or "?"))
                return
            await ask_next(ctx, form, answers, editing=q.key)
            return
        await ctx.reply_text(ctx.render.macro(form.template, "confirm_help", rows=summary_rows(ctx, form, answers),
                                              bad_target=""))
        return
    key = data.get("key")
    q = next((x for x in form.questions if x.key == key), None)
    if q is None:  # the form changed under a saved conversation: ask again from where it is
        await ask_next(ctx, form, answers)
        return
    try:
        if q.resume is not None:
            value = await q.resume(ctx, text, answers, data.get("pending"))
        else:
            value = await q.parse(ctx, text, answers)
    except Invalid as bad:
        await ctx.reply_text(ctx.render.macro(form.template, f"err_{bad.code}", text=text, **bad.values))
        return
    except Reply as asked:
        await ctx.set_state("ask", {**data, "pending": asked.pending})
        await ctx.reply_text(asked.text)
        return
    # A changed answer may make later questions (in)applicable: _take drops answers that no longer apply.
    answers, echo = _take(ctx, form, q, value, answers)
    editing = data.get("editing")
    if editing:
        nxt = form.pending(answers)
        await ask_next(ctx, form, answers, editing=nxt.key if nxt else None, prefix=echo)
    else:
        await ask_next(ctx, form, answers, prefix=echo)


@router.resume("form")
async def resume_form(ctx: Context) -> None:
    """After 帮助/待办/进度 mid-form: the question still waiting (an ask-back, such as 第几节, as it was)."""
    data = dict(ctx.conversation.data)
    form = FORMS[data["form"]]
    answers = dict(data.get("answers", {}))
    if ctx.conversation.state == "confirm":
        question = ctx.render.macro(form.template, "summary", rows=summary_rows(ctx, form, answers), answers=answers,
                                    person=ctx.person)
    else:
        q = next((x for x in form.questions if x.key == data.get("key")), None)
        question = ""
        if q is not None and q.resume is not None and data.get("pending"):
            try:
                await q.resume(ctx, "", answers, data["pending"])
            except Reply as asked:
                question = asked.text
            except Invalid:
                pass
        if not question and q is not None:
            question = ctx.render.macro(form.template, f"ask_{q.key}", answers=answers, person=ctx.person,
                                        editing=bool(data.get("editing")))
    await ctx.reply("continue.j2", question=question)
