"""What people type, understood, over the real WeCom callback: sentences that name a workflow start it
(passing on the day they say), 通知 audiences in everyday phrasings, a fallback that offers what each
person can do, and 帮助/待办/进度 in the middle of a form."""
from __future__ import annotations

import json

import pytest

from tests.support.flows import TODAY, compose
from tests.support.harness import pin_today
from tests.support.people import COUNSELORS, HEAD, OFFICE, SECRETARIES, TEACHER

COUNSELOR = "huangfd"  # 黄福东, 机电工程系 辅导员


@pytest.fixture(autouse=True)
def _fixed_today(request):
    if "wecom" in request.fixturenames:
        pin_today(request.getfixturevalue("wecom").core, TODAY)


# (who, what they type, words the answer must contain, words it must not contain)
STARTS = [
    (TEACHER, "我要调课", ["好的，调课", "回复序号"], ["没太明白"]),
    (TEACHER, "想调一下课", ["好的，调课"], ["没太明白"]),
    (TEACHER, "帮我停课", ["好的，停课"], ["没太明白"]),
    (TEACHER, "麻烦帮我代个课", ["好的，代课"], ["没太明白"]),
    (TEACHER, "老师好，我下周三要去开会，想调一下课", ["好的，调课", "12月9日（周三）", "不用再填日期"], ["没太明白"]),
    (TEACHER, "下周一有事，想调一下课", ["12月7日（周一）的课", "机械制图"], ["计算机网络基础"]),
    (TEACHER, "调停课", ["请选择类型"], []),
    (HEAD, "我要调课", ["好的，调课"], []),  # a 系部主任 who teaches
    (TEACHER, "我要发起三大注册", ["三大注册由教务处发起", "待办"], ["只能由"]),
    (TEACHER, "三大注册", ["三大注册由教务处发起"], []),
    (OFFICE, "我要调课", ["调停课由任课教师发起"], ["好的"]),
    (OFFICE, "想发起三大注册", ["要发起 1.1 三大注册 吗"], ["已启动"]),
    (TEACHER, "今天食堂几点开门", ["没太明白", "调课、停课、代课", "我的课表"], ["启动"]),
]


@pytest.mark.parametrize("who,text,said,unsaid", STARTS, ids=[f"{r[0]}:{r[1]}" for r in STARTS])
async def test_free_text_starts_what_it_names(wecom, who, text, said, unsaid):
    w = wecom
    await w.say(who, text)
    answer = w.last_text(who)
    for words in said:
        assert words in answer, (text, answer)
    for words in unsaid:
        assert words not in answer, (text, answer)


async def test_the_day_in_the_sentence_is_kept_and_only_the_periods_are_asked(wecom):
    w = wecom
    await w.say(TEACHER, "老师好，我下周三要去开会，想调一下课")
    await w.say(TEACHER, "电工基础")
    await w.say(TEACHER, "计网2401")
    assert "12月9日（周三）第几节" in w.last_text(TEACHER)  # not 哪一天 again
    await w.say(TEACHER, "三四节")
    assert "已记下：12月9日（周三）第3-4节（第14教学周）" in w.last_text(TEACHER)
    assert "原上课地点" in w.last_text(TEACHER)


async def test_confirmed_free_text_start_and_a_no(wecom):
    w = wecom
    await w.say(OFFICE, "想发起三大注册")
    await w.say(OFFICE, "算了")
    assert "没有发起 1.1" in w.last_text(OFFICE) and not w.cards("linms")
    await w.say(OFFICE, "想发起三大注册")
    await w.say(OFFICE, "是")
    assert "已启动：三大注册" in w.last_text(OFFICE)


AUDIENCES = [  # what 教务处 writes → who receives the notice
    ("所有教学秘书和辅导员", set(SECRETARIES.values()) | {"yeqing"} | set(COUNSELORS)),
    ("全体任课教师", {"chenzr", "sunlt", "maqiang", "hezq", "xuhm", "luoxy", "fengkai", "dengyl", "yuanhx",
                  "jiangtao", "songlp", "cuimin"}),
    ("信息工程系及机电系的辅导员", {"huangfd", "zhoujs", "tangwj"}),
    ("机电系的教学秘书和辅导员", {"linms", "huangfd", "zhoujs"}),
    ("教学秘书、辅导员", set(SECRETARIES.values()) | {"yeqing"} | set(COUNSELORS)),
    ("经管系，通识部", {"dengyl", "caiqh", "panxl", "yuanhx", "jiangtao", "songlp", "yeqing", "cuimin"}),
    ("所有教学秘书 系部主任", set(SECRETARIES.values()) | {"yeqing", "chenzr", "xuhm", "dengyl", "songlp"}),
    ("信息工程系与经济管理系的系部主任", {"xuhm", "dengyl"}),
]


@pytest.mark.parametrize("audience,expected", AUDIENCES, ids=[a for a, _ in AUDIENCES])
async def test_notice_audiences_in_everyday_words(wecom, audience, expected):
    w = wecom
    await compose(w, audience=audience, confirm="否")
    assert f"共 {len(expected)} 人" in w.last_text(OFFICE), w.last_text(OFFICE)
    assert set(w.fake.delivery_counts()) - {OFFICE} == expected  # only the notice reached anyone else


async def test_the_fallback_offers_what_each_person_can_do(wecom):
    w = wecom
    for who in (TEACHER, COUNSELOR, OFFICE):
        await w.say(who, "嗯嗯好的")
    teacher, counselor, office = (w.last_text(u) for u in (TEACHER, COUNSELOR, OFFICE))
    assert all("没太明白" in t for t in (teacher, counselor, office))
    for words in ("调课、停课、代课", "待办", "我的课表", "撤回", "想调课"):
        assert words in teacher, teacher
    assert "启动" not in teacher and "1.1" not in teacher and "通知" not in teacher
    assert "调课" not in counselor and "撤回" not in counselor and "启动" not in counselor
    assert "启动 编号" in office and "通知" in office and "催办" in office

    await w.say(TEACHER, "帮助")
    assert "调课、停课、代课" in w.last_text(TEACHER) and "启动" not in w.last_text(TEACHER)


async def test_help_todo_progress_mid_form_then_the_question_again(wecom):
    w = wecom
    await w.say(TEACHER, "调课")
    await w.say(TEACHER, "电工基础")
    assert "哪个班级" in w.last_text(TEACHER)
    for command, shown in (("帮助", "您可以"), ("待办", "待办"), ("进度", "没有找到")):
        mark = w.mark()
        await w.say(TEACHER, command)
        texts = [m["content"] for m in w.since(mark, TEACHER)]
        assert any(shown in t for t in texts[:-1]), (command, texts)
        assert "接着刚才的填写" in texts[-1] and "哪个班级" in texts[-1], (command, texts)
    await w.say(TEACHER, "计网2401")
    assert "原上课日期" in w.last_text(TEACHER)  # the form goes on where it was
    await w.say(TEACHER, "12月10日")
    assert "第几节" in w.last_text(TEACHER)
    await w.say(TEACHER, "进度")  # an ask-back is repeated as it was asked
    assert "接着刚才的填写" in w.last_text(TEACHER) and "12月10日（周四）第几节" in w.last_text(TEACHER)
    await w.say(TEACHER, "取消")
    assert "已取消" in w.last_text(TEACHER)


def _spec_notes(specs) -> set[str]:
    notes = {w.note for spec in specs.values() for w in spec.windows if w.note}
    notes |= {st.note for spec in specs.values() for f in spec.all_flows() for st in f.steps if st.note}
    return notes


async def test_no_message_shows_a_spec_note_and_schedule_is_by_role(wecom):
    w = wecom
    people = [TEACHER, HEAD, COUNSELOR, "linms", "yeqing", OFFICE, "zhaogm"]
    schedule = {}
    for who in people:
        for command in ("帮助", "日程", "本周", "待办", "嗯"):
            await w.say(who, command)
            if command == "日程":
                schedule[who] = w.last_text(who)
    for command in ("启动 1.1", "进度 1.1", "启动 3.9", "进度 3.9", "启动 1.6", "进度"):
        await w.say(OFFICE, command)
    seen = json.dumps([m["body"] for m in w.sent_messages()], ensure_ascii=False)
    for note in _spec_notes(w.core.specs):
        assert note not in seen and note[:10] not in seen, note
    assert "手册未写" not in seen

    # 日程: 教务处 sees every workflow it owns; a 系部 secretary only those her 系部 works in, each with her
    # part; a 辅导员 only the few a 辅导员 works in
    items = {who: [line for line in text.splitlines() if line.startswith("· ")] for who, text in schedule.items()}
    assert items[OFFICE] and not any("您：" in line for line in items[OFFICE])
    assert items["linms"] and all("您：" in line for line in items["linms"]), items["linms"]
    assert len(items[COUNSELOR]) < len(items[OFFICE])
    assert not any("运动会" in line for line in items["linms"])  # 通识教育部's own work is not 机电工程系's
