"""Part of the composition root (with ``bot/app.py`` and ``bot/cli.py``): the one
place that knows which handler modules exist, in which order they route, and
which step hooks the specs' ``handler`` names mean.

Nothing registers itself on import: each handler module exports its own
``router`` and is listed here. The order is visible and it matters twice: the
middlewares run top to bottom, and among routers the first to claim a command
word wins, the fallbacks are tried in this order, and 帮助 lists the commands
in this order.
"""
from __future__ import annotations

from bot.middlewares import cancel_conversation, load_conversation, refuse_strangers
from bot.router import Dispatcher
from handlers import adjust_class, forms, notices, schedule, uploads, workflows
from handlers.data import signup, step_form
from handlers.data.adjust_record import AdjustRecord
from handlers.data.makeup import MakeupListCheck
from handlers.data.spreadsheets import AbnormalStudents, AttendanceSheets, EvaluationCompletion
from handlers.data.workload import WorkloadCheck
from handlers.timetable import queries as timetable_queries
from handlers.timetable import upload as timetable_upload
from workflow.hooks import HookRegistry

# Modules whose chat forms register themselves in ``handlers.forms.FORMS`` on import (that registry is
# not a router yet). Listed here so 调课 and every 填写 form exist however the process started.
FORM_MODULES = (adjust_class, signup)


def include_routers(dispatcher: Dispatcher) -> Dispatcher:
    """Every handler module's router, in routing and 帮助 order."""
    dispatcher.include_routers(
        notices.router,     # 通知, its conversation and 确认收到
        workflows.router,   # 启动 … 帮助, 同意/驳回/确认/已完成, the reason conversation, workflow aliases
        schedule.router,    # 本周, 日程, 启动 on a window reminder
        timetable_queries.router,  # 我的课表/本周课表/下周课表, 班级课表, 教室
        timetable_upload.router,   # 课表 (教务处): the link to import a term's 课表
        forms.router,       # the "form" conversation every chat form runs in
        step_form.router,   # 填写 on a form step's card
        uploads.router,     # an image in chat goes to the person's open upload step
    )
    return dispatcher


def build_dispatcher() -> Dispatcher:
    """Middlewares in the order they run, then the routers."""
    dispatcher = Dispatcher()
    dispatcher.middleware(refuse_strangers)     # only people in the directory go further
    dispatcher.middleware(load_conversation)    # the FSM: the person's open conversation row
    dispatcher.middleware(cancel_conversation)  # 取消/退出 leaves any conversation
    return include_routers(dispatcher)


def build_hooks() -> HookRegistry:
    """Every step hook by the ``handler`` name the specs use (``HookRegistry.check`` finds a missing one)."""
    return HookRegistry({
        "adjust_record": AdjustRecord(),              # 调停课: the record 教务处 files
        signup.NAME: signup.ExamSignupCount(),        # 报名人数 forms, summed for 教务处
        "makeup_list_check": MakeupListCheck(),       # 补考名单: each 系部 checks its lines
        "workload_check": WorkloadCheck(),            # 工作量: each teacher checks their lines
        "abnormal_students": AbnormalStudents(),      # spreadsheets merged for 教务处
        "attendance_sheets": AttendanceSheets(),
        "evaluation_completion": EvaluationCompletion(),
    })
