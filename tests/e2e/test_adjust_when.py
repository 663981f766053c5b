"""The 调停课 form reads days and periods as teachers write them, over the real WeCom
callback: the echo with 周几 and 教学周, the questions asked back (which day, which periods,
is a weekend meant), kept in the conversation row across a restart."""
from __future__ import annotations

from datetime import date

from tests.support.harness import WeComHarness, card_text, pin_today

TEACHER = "sunlt"  # 孙丽婷, 机电工程系 任课教师
HEAD = "chenzr"  # 陈志荣, 机电工程系 系部主任
TODAY = date(2026, 12, 3)  # a Thursday in 第13教学周 of the shipped 校历


async def test_tomorrow_afternoon_and_a_weekend(wecom):
    w = wecom
    pin_today(w.core, TODAY)
    for text in ("调课", "电工基础", "计网2401"):
        await w.say(TEACHER, text)
    await w.say(TEACHER, "明天下午第5-6节")
    said = w.last_text(TEACHER)
    assert "已记下：12月4日（周五）第5-6节（第13教学周）" in said and "原上课地点" in said
    await w.say(TEACHER, "实训楼A301")
    await w.say(TEACHER, "１２月５日　上午１－２节")  # a Saturday, typed full-width
    said = w.last_text(TEACHER)
    assert "12月5日（周六）第1-2节（第13教学周）" in said
    assert "周末" in said and "1. 确定" in said and "2. 重新填写" in said
    await w.say(TEACHER, "1")
    said = w.last_text(TEACHER)
    assert "已记下：12月5日（周六）第1-2节（第13教学周）" in said and "调整后的地点" in said
    await w.say(TEACHER, "不变")
    await w.say(TEACHER, "参加市级教学能力比赛")
    summary = w.last_text(TEACHER)
    assert "原上课时间：12月4日（周五）第5-6节（第13教学周）" in summary
    assert "调整后时间：12月5日（周六）第1-2节（第13教学周）" in summary
    await w.say(TEACHER, "确认")
    assert "已提交" in w.last_text(TEACHER)
    assert "12月4日（周五）第5-6节" in card_text(w.last_card(HEAD))


async def test_asked_back_until_settled_across_a_restart(wecom, wecom_settings, aiohttp_client):
    from bot.app import CORE, create_app

    w = wecom
    pin_today(w.core, TODAY)
    for text in ("停课", "高等数学", "机电2401"):
        await w.say(TEACHER, text)
    await w.say(TEACHER, "11月1日 1-2节")
    assert "30 天以上" in w.last_text(TEACHER)
    await w.say(TEACHER, "第3节和第4节")
    assert "第3-4节是哪一天" in w.last_text(TEACHER)

    app2 = create_app(wecom_settings, "serve", start_workers=False, clock=w.core.clock)  # a restart mid-question
    w2 = WeComHarness(await aiohttp_client(app2), app2[CORE], w.fake)
    pin_today(w2.core, TODAY)
    await w2.say(TEACHER, "周三")
    said = w2.last_text(TEACHER)
    assert "1. 12月2日（周三）第3-4节（第13教学周）（已过去）" in said
    assert "2. 12月9日（周三）第3-4节（第14教学周）" in said
    await w2.say(TEACHER, "2")
    said = w2.last_text(TEACHER)
    assert "已记下：12月9日（周三）第3-4节（第14教学周）" in said and "原上课地点" in said
    await w2.say(TEACHER, "教学楼101")
    await w2.say(TEACHER, "外出培训")
    assert "原上课时间：12月9日（周三）第3-4节（第14教学周）" in w2.last_text(TEACHER)

    # 修改 the time: a hint that disagrees is asked about; 元旦 needs a yes; 2 asks afresh
    await w2.say(TEACHER, "修改 4")
    await w2.say(TEACHER, "1月1日 上午5-6节")
    said = w2.last_text(TEACHER)
    assert "上午是第1-4节" in said and "1. 就是第5-6节" in said
    await w2.say(TEACHER, "1")
    said = w2.last_text(TEACHER)
    assert "2027年1月1日（周五）第5-6节" in said and "元旦" in said and "1. 确定" in said
    await w2.say(TEACHER, "2")
    assert "请重新填写原上课时间" in w2.last_text(TEACHER)
    await w2.say(TEACHER, "下周四 七八节")
    said = w2.last_text(TEACHER)
    assert "已记下：12月10日（周四）第7-8节（第14教学周）" in said and "请核对调停课申请" in said


async def test_periods_asked_alone_and_bad_periods_refused(wecom):
    w = wecom
    pin_today(w.core, TODAY)
    for text in ("停课", "高等数学", "机电2401"):
        await w.say(TEACHER, text)
    await w.say(TEACHER, "下周三")
    assert "12月9日（周三）第几节" in w.last_text(TEACHER)
    await w.say(TEACHER, "13节")
    assert "没有第13节" in w.last_text(TEACHER)
    await w.say(TEACHER, "3-4")  # the day is kept; a bare pair is the periods
    assert "已记下：12月9日（周三）第3-4节（第14教学周）" in w.last_text(TEACHER)
    await w.say(TEACHER, "教学楼101")
    await w.say(TEACHER, "外出培训")
    await w.say(TEACHER, "修改 4")
    await w.say(TEACHER, "12月10日 晚上5-6节")
    assert "晚上是第9-12节" in w.last_text(TEACHER)
    await w.say(TEACHER, "9-10")  # the corrected periods, bare
    assert "已记下：12月10日（周四）第9-10节（第14教学周）" in w.last_text(TEACHER)
