"""Steps that carry data, driven over the WeCom callback and the signed pages as
people would: 1.1 异常学生名单 merged for 教务处, 1.6 工作量 checked by each
teacher and 考勤表 per 系部, 1.7 补考名单 checked per 系部, 2.1 报名/缴费人数,
4.7 评教完成率; wrong spreadsheets are explained row by row."""
from __future__ import annotations

import re
import time

from sqlalchemy import select

from models import AuditEntry, StoredFile
from tests.support.files import ABNORMAL, ATTENDANCE, EVALUATION, JPEG, MAKEUP, WORKLOAD, xlsx
from tests.support.flows import finish_office_tasks, merged_card, progress_text, run_of
from tests.support.harness import card_text, card_url, settled
from tests.support.pages import download, link_in, local, upload
from tests.support.people import COUNSELORS, GENERAL_TEACHERS, OFFICE, SECRETARIES


# ----- 1.1 三大注册: 异常信息学生名单 ------------------------------------------------------------
async def test_abnormal_students_checked_then_merged_for_the_office(wecom):
    w = wecom
    await w.say(OFFICE, "启动 1.1")
    assert "已启动：三大注册" in w.last_text(OFFICE)
    run = await run_of(w, "1.1")
    await finish_office_tasks(w, run)  # 拟定方案
    await finish_office_tasks(w, run)  # 制作分班审核名单
    for counselor in COUNSELORS:  # 承诺书: a photo in chat closes each counselor's own task
        await w.image(counselor, JPEG)
        assert "已收到" in w.last_text(counselor)

    card = w.last_card("linms")
    assert "请上传" in card["main_title"]["title"] and "必填列：学号、姓名、班级、异常类型；选填：说明" in card_text(card)
    url = card_url(card)
    status, html = await upload(w, url, xlsx(["学号", "姓名", "班级", "说明"], ["2024001", "张三", "机电2401", "休学"]))
    assert status == 422 and "缺少列：异常类型" in html
    status, html = await upload(w, url, xlsx(ABNORMAL, ["2024001", "张三", "机电2401", "休学", "因病"],
                                             ["2024002", "", "机电2401", "退学", ""]))
    assert status == 422 and "第 3 行：姓名 为空" in html  # 说明 is optional: blank is fine
    status, html = await upload(w, url, xlsx(ABNORMAL, ["2024001", "张三", "机电2401", "休学", "因病"],
                                             ["2024001", "李四", "机电2401", "退学", "个人原因"]))
    assert status == 422 and "第 3 行：学号 2024001 与第 2 行重复" in html
    status, html = await upload(w, url, xlsx(ABNORMAL, ["2024001", "张三", "机电2401", "休学", "因病"],
                                             ["2024002", "李四", "机电2402", "退学", "个人原因"]))
    assert status == 200 and "已收到" in html
    async with w.core.db.session() as s:
        refused = (await s.execute(select(AuditEntry).where(AuditEntry.action == "upload_refused"))).scalars().all()
    assert len(refused) == 3

    # the join waits for the other two 系部; 进度 shows who is behind
    await w.say(OFFICE, "进度 1.1")
    progress = progress_text(w)
    assert "机电工程系：已完成" in progress
    assert "信息工程系：未完成（郭燕）" in progress and "经济管理系：未完成（蔡琴华）" in progress
    assert "通识教育部：未完成（叶青）" in progress  # a teaching department like the others
    assert not [c for c in w.cards(OFFICE) if c["main_title"]["title"].startswith("合并表")]

    await upload(w, card_url(w.last_card("guoyan")), xlsx(ABNORMAL, ["2024101", "王五", "计网2401", "学籍异常", "身份证号错误"]))
    await upload(w, card_url(w.last_card("caiqh")), xlsx(ABNORMAL, ["2024201", "赵六", "会计2401", "未报到", "未联系上"],
                                                         ["2024202", "钱七", "电商2401", "休学", "参军"]))
    assert not [c for c in w.cards(OFFICE) if c["main_title"]["title"].startswith("合并表")]  # 通识教育部 to answer
    await upload(w, card_url(w.last_card("yeqing")), xlsx(ABNORMAL))  # 本部门无异常学生: the header alone
    card = merged_card(w)
    assert "共 5 行" in card_text(card) and "已收齐" in card_text(card) and card["jump_list"][0]["title"] == "打开合并表"
    assert not any("/file/" in t for t in w.texts(OFFICE) if "上传的文件" not in t)  # never a raw link in text
    rows = await download(w, card_url(card))
    assert rows[0] == ["系部"] + ABNORMAL
    assert sorted(r[0] for r in rows[1:]) == ["信息工程系", "机电工程系", "机电工程系", "经济管理系", "经济管理系"]
    assert ["信息工程系", "2024101", "王五", "计网2401", "学籍异常", "身份证号错误"] in rows
    async with w.core.db.session() as s:
        produced = (await s.execute(select(StoredFile).where(StoredFile.userid == "system"))).scalars().all()
    assert produced and all(str(w.core.settings.data_dir) in f.path for f in produced)
    # the run moved on to 处理异常信息
    assert "处理异常信息" in card_text(w.last_card(OFFICE))


async def test_download_link_is_signed_and_personal(wecom):
    w = wecom
    await test_abnormal_students_checked_then_merged_for_the_office(w)
    url = card_url(merged_card(w))
    tampered = re.sub(r"sig=\w+", "sig=" + "0" * 32, url)
    assert (await w.client.get(local(tampered))).status == 403
    other = url.replace(f"u={OFFICE}", "u=linms")  # someone else's name on the same link
    assert (await w.client.get(local(other))).status == 403
    assert (await w.client.get("/file/abc?u=x&exp=1&sig=x")).status == 400


# ----- 1.6 课时统计 --------------------------------------------------------------------------------
TEACHERS = {"chenzr", "sunlt", "maqiang", "hezq", "xuhm", "luoxy", "fengkai", "dengyl", "yuanhx", "jiangtao",
            *GENERAL_TEACHERS}  # 通识教育部's teachers are paid by the same sheet


async def test_workload_each_teacher_checks_own_lines_and_disputes_reach_the_office(wecom):
    w = wecom
    await w.say(OFFICE, "启动 1.6")
    ask = w.last_card(OFFICE)
    assert "请上传本期工作量表" in ask["main_title"]["title"] and "工号、姓名、课程、班级、课时" in card_text(ask)
    for teacher in TEACHERS:  # a heads-up without buttons until the table is in
        assert "教务处正在整理本期工作量表" in w.last_text(teacher) and not w.cards(teacher)

    status, html = await upload(w, card_url(ask), xlsx(WORKLOAD, ["sunlt", "孙丽婷", "电工基础", "机电2401", 32],
                                                       ["sunlt", "孙丽婷", "电工基础", "机电2402", "三十"]))
    assert status == 422 and "第 3 行：课时“三十”不是数字" in html
    luoxy = [["luoxy", "罗晓燕", f"课程{i}", "计网2401", 8] for i in range(7)]
    status, html = await upload(w, card_url(ask), xlsx(
        WORKLOAD, ["sunlt", "孙丽婷", "电工基础", "机电2401", 32], ["sunlt", "孙丽婷", "机械制图", "机电2402", 16],
        ["T0999", "何志强", "液压传动", "数控2401", 24],  # unknown 工号, unique name: still his
        ["T0100", "张无名", "高等数学", "会计2401", 40],  # nobody: listed to 教务处
        *luoxy))
    assert status == 200
    received = next(t for t in w.texts(OFFICE) if "已收到工作量表" in t)
    assert "共 11 条、3 位教师、合计 168 课时" in received
    assert f"核对卡片已发给 {len(TEACHERS)} 位任课教师" in received  # what the outbox queued: 12, 通识教育部 included
    assert "没有您的课时记录" in card_text(w.last_card("cuimin"))
    assert "第 5 行 张无名（工号 T0100）" in received and "马强" in received  # 马强 has no lines

    card = w.last_card("sunlt")
    text = card_text(card)
    assert "请核对工作量" in card["main_title"]["title"]
    assert "电工基础:机电2401 · 32 课时" in text and "机械制图:机电2402 · 16 课时" in text and "合计:48 课时" in text
    assert "液压传动" not in text and "课程1" not in text  # only her own lines
    assert "全部课时记录（共 7 条，合计 56 课时）" in w.last_text("luoxy")
    assert "没有您的课时记录" in card_text(w.last_card("maqiang"))

    await w.click("sunlt", card, "确认")
    assert "已确认" in w.last_text("sunlt")
    await w.click("hezq", w.last_card("hezq"), "有异议")
    assert "理由" in w.last_text("hezq")
    await w.say("hezq", "液压传动实训少算了 8 课时")
    assert "已提交反馈" in w.last_text("hezq")
    dispute = w.last_card(OFFICE)  # a card to answer, 已更正 or 维持
    assert "何志强" in dispute["main_title"]["title"] and "少算了 8 课时" in card_text(dispute)
    assert "合计:24 课时" in card_text(dispute)

    for teacher in sorted(TEACHERS - {"sunlt", "hezq"}):
        await w.click(teacher, w.last_card(teacher), "确认")
    assert not any("工作量核对已结束" in t for t in w.texts(OFFICE))  # the step waits for the answer
    assert (await run_of(w, "1.6")).step_index == 0
    await w.click(OFFICE, dispute, "维持")
    await w.say(OFFICE, "实训课时已计入液压传动")
    assert "维持原统计" in w.last_text("hezq") and "实训课时已计入液压传动" in w.last_text("hezq")
    summary = next(t for t in w.texts(OFFICE) if "工作量核对已结束" in t)
    assert f"确认无误 {len(TEACHERS) - 1} 人；有异议 1 人" in summary and "何志强（机电工程系）：液压传动实训少算了 8 课时" in summary

    # step 2: each 系部's 考勤表, numbers checked, merged for 教务处
    card = w.last_card("linms")
    assert "考勤统计表" in card_text(card)
    status, html = await upload(w, card_url(card), xlsx(ATTENDANCE, ["sunlt", "孙丽婷", 2, "四", 0]))
    assert status == 422 and "第 2 行：晚自习课时“四”不是数字" in html
    for dept, secretary in SECRETARIES.items():
        status, _ = await upload(w, card_url(w.last_card(secretary)),
                                 xlsx(ATTENDANCE, [secretary, dept, 2, 4, 0], ["x" + secretary, "某老师", 0, 2, 2]))
        assert status == 200
    rows = await download(w, card_url(merged_card(w, words="考勤统计表")))
    assert rows[0] == ["系部"] + ATTENDANCE and len(rows) == 1 + 2 * len(SECRETARIES)
    assert "测算课时津贴" in card_text(w.last_card(OFFICE))
    assert (await run_of(w, "1.6")).step_index == 2


async def test_workload_given_in_run_data_goes_out_at_once(wecom):
    """A run started by a script with the table in its data: no upload, cards with lines at once."""
    w = wecom
    async with w.core.db.session() as s:
        from models import Person

        starter = await s.get(Person, OFFICE)
        lines = [{"工号": "sunlt", "姓名": "孙丽婷", "课程": "电工基础", "班级": "机电2401", "课时": "32"}]
        await w.core.engine.start_run(s, w.core.specs["1.6"], starter, data={"workload": {"rows": lines}})
        await s.commit()
    await w.core.settle()
    assert "电工基础:机电2401 · 32 课时" in card_text(w.last_card("sunlt"))
    assert not any("请上传" in c["main_title"]["title"] for c in w.cards(OFFICE))
    assert any("已收到工作量表" in t for t in w.texts(OFFICE))


# ----- 1.7 开学补考: 补考名单 per 系部 ----------------------------------------------------------------
async def test_makeup_list_split_by_department_confirm_or_correct(wecom):
    w = wecom
    await w.say(OFFICE, "启动 1.7")
    assert "开学补考及毕业大补考" in w.last_text(OFFICE)
    await w.say(OFFICE, "1")
    run = await run_of(w, "1.7")
    assert run.flow_id == "makeup"
    await finish_office_tasks(w, run)  # 确定补考时间段
    for secretary in SECRETARIES.values():
        assert "筛选好后会把本系部的名单发给您核对" in w.last_text(secretary)
    ask = w.last_card(OFFICE)
    assert "请上传补考名单" in ask["main_title"]["title"]
    status, html = await upload(w, card_url(ask), xlsx(["学号", "姓名", "班级", "科目"], ["1", "张三", "机电2401", "高数"]))
    assert status == 422 and "缺少列：系部" in html
    status, _ = await upload(w, card_url(ask), xlsx(
        MAKEUP, ["2024001", "张三", "机电2401", "机电工程系", "高等数学"], ["2024002", "李四", "机电2402", "机电工程系", "电工基础"],
        ["2024101", "王五", "计网2401", "信息工程系", "C语言"], ["2024301", "孙八", "英语2401", "外语系", "英语"]))
    assert status == 200
    received = next(t for t in w.texts(OFFICE) if "已收到补考名单" in t)
    assert "机电工程系：2 人次" in received and "经济管理系：0 人次" in received and "通识教育部：0 人次" in received
    assert f"发给 {len(SECRETARIES)} 位教学秘书核对" in received
    assert "第 5 行 孙八（外语系）英语" in received

    card = w.last_card("linms")
    text = card_text(card)
    assert "本系部共 2 人次需补考" in text and "张三:高等数学（机电2401）" in text and "王五" not in text
    rows = await download(w, card_url(card))
    assert rows == [MAKEUP, ["2024001", "张三", "机电2401", "机电工程系", "高等数学"],
                    ["2024002", "李四", "机电2402", "机电工程系", "电工基础"]]
    assert "没有本系部的学生" in card_text(w.last_card("caiqh"))

    await w.click("linms", card, "确认")
    await w.click("guoyan", w.last_card("guoyan"), "有误")
    await w.say("guoyan", "王五已于上学期补考通过，请删除；漏了赵九（计网2401）数据库")
    correction = w.last_text(OFFICE)
    assert "信息工程系 郭燕 退回补考名单更正" in correction and "漏了赵九" in correction
    await w.click("caiqh", w.last_card("caiqh"), "确认")
    await w.click("yeqing", w.last_card("yeqing"), "确认")
    summary = next(t for t in w.texts(OFFICE) if "补考名单核对已结束" in t)
    assert "机电工程系：确认无误" in summary and "信息工程系：有误 — 王五已于上学期补考通过" in summary
    assert "印制补考试卷" in card_text(w.last_card("linms"))


# ----- 2.1 普通话: 报名与缴费人数 ------------------------------------------------------------------
async def test_signup_numbers_must_agree_before_the_step_closes(wecom):
    w = wecom
    await w.say(OFFICE, "启动 2.1")
    run = await run_of(w, "2.1")
    await finish_office_tasks(w, run)  # 设置测试参数; 报名通知 is a notice
    card = w.last_card("linms")
    assert "请填写" in card["main_title"]["title"] and [b["text"] for b in card["button_list"]] == ["填写"]
    await w.click("linms", card, "填写")
    assert "请填写本系部的报名人数" in w.last_text("linms")
    await w.say("linms", "五十")
    assert "请只填一个整数" in w.last_text("linms")
    await w.say("linms", "50")
    await w.say("linms", "47")
    assert "缴费人数比报名人数少 3 人，请核对后重新填写" in w.last_text("linms")
    await w.say("linms", "50")
    summary = w.last_text("linms")
    assert "报名人数：50" in summary and "缴费人数：50" in summary and "普通话水平测试" in summary
    await w.say("linms", "修改 2")  # 报名人数 changed after 缴费人数: asked again, not closed
    await w.say("linms", "52")
    await w.say("linms", "确认")
    assert "缴费人数比报名人数少 2 人" in w.texts("linms")[-2] and "缴费人数" in w.last_text("linms")
    await w.say("linms", "52")
    await w.say("linms", "确认")
    assert "已完成" in w.last_text("linms")
    assert settled(w.fake.card_updates[-1]).endswith("办结")
    await w.click("linms", card, "填写", create_time=int(time.time()) + 5)  # the card again: already done
    assert "已处理" in w.last_text("linms")

    await w.say(OFFICE, "进度 2.1")
    assert "信息工程系：未完成（郭燕）" in w.last_text(OFFICE)
    for secretary, n in (("guoyan", "30"), ("caiqh", "41"), ("yeqing", "0")):
        await w.click(secretary, w.last_card(secretary), "填写")
        for answer in (n, n, "确认"):
            await w.say(secretary, answer)
    summary = next(t for t in w.texts(OFFICE) if "报名与缴费人数如下" in t)
    assert "机电工程系：报名 52 人，缴费 52 人" in summary and "合计：报名 123 人，缴费 123 人" in summary
    assert "普通话" in (await run_of(w, "2.1")).title and (await run_of(w, "2.1")).step_index == 4


async def test_form_is_restart_safe(wecom, wecom_settings, aiohttp_client):
    from bot.app import CORE, create_app
    from tests.support.harness import WeComHarness

    w = wecom
    await w.say(OFFICE, "启动 2.2")  # 计算机等级考试: the form is its second step
    await w.click("guoyan", w.last_card("guoyan"), "填写")
    await w.say("guoyan", "60")
    app2 = create_app(wecom_settings, "serve", start_workers=False, clock=w.core.clock)
    w2 = WeComHarness(await aiohttp_client(app2), app2[CORE], w.fake)
    await w2.say("guoyan", "60")
    assert "请核对" in w2.last_text("guoyan")
    await w2.say("guoyan", "确认")
    assert "已完成" in w2.last_text("guoyan")


# ----- 4.7 学期评教: 完成比率 per 系部 ----------------------------------------------------------------
async def test_evaluation_rates_per_department(wecom):
    w = wecom
    await w.say(OFFICE, "启动 4.7")
    run = await run_of(w, "4.7")
    await finish_office_tasks(w, run)
    for _ in range(2):  # 培训会, 完成评教: every 系部 taps 已完成
        for secretary in SECRETARIES.values():
            await w.click(secretary, w.last_card(secretary), "办结")
    card = w.last_card("linms")
    status, html = await upload(w, card_url(card), xlsx(EVALUATION, ["机电2401", "九成"]))
    assert status == 422 and "第 2 行：完成比率“九成”应是 0–100 的百分数" in html
    await upload(w, card_url(card), xlsx(EVALUATION, ["机电2401", "96%"], ["机电2402", 0.9], ["数控2401", "84"]))
    await upload(w, card_url(w.last_card("guoyan")), xlsx(EVALUATION, ["计网2401", "100%"], ["软件2401", "98%"]))
    await w.say(OFFICE, "跳过 4.7 经济管理系系统故障，线下报送")
    rates = next(t for t in w.texts(OFFICE) if "各系部评教完成情况" in t)
    assert "机电工程系：参评班级 3 个，平均完成比率 90%，最低 数控2401 84%" in rates
    assert "信息工程系：参评班级 2 个，平均完成比率 99%" in rates
    assert "未报送：经济管理系" in rates and "全校：参评班级 5 个，平均完成比率 93.6%" in rates
    assert "明细见随后的合并表" in rates and "http" not in rates
    rows = await download(w, card_url(merged_card(w, words="评教")))
    assert rows[0] == ["系部", "参评班级", "完成比率"] and len(rows) == 6


# ----- the specs and the Python agree ----------------------------------------------------------------
def test_every_handler_and_form_named_in_a_spec_exists():
    from bot.composition import FORM_MODULES, build_hooks
    from handlers.forms import FORMS
    from workflow.registry import default_specs

    steps = [step for spec in default_specs().values() for flow in spec.all_flows() for step in flow.steps]
    assert FORM_MODULES  # the modules whose forms the specs name are imported
    assert build_hooks().check(default_specs()) == []
    assert {s.form for s in steps if s.kind == "form"} <= set(FORMS)


async def test_abnormal_students_header_only_sheet_means_none_in_that_department(wecom):
    """1.1: a 系部 without abnormal students uploads the header row alone; it counts as 0 rows, not missing."""
    w = wecom
    await w.say(OFFICE, "启动 1.1")
    run = await run_of(w, "1.1")
    await finish_office_tasks(w, run)  # 拟定方案
    await finish_office_tasks(w, run)  # 制作分班审核名单
    for counselor in COUNSELORS:
        await w.image(counselor, JPEG)

    url = card_url(w.last_card("linms"))
    page = await w.client.get(local(url))
    assert "只有第一行表头的表格即可" in await page.text()
    status, html = await upload(w, url, xlsx(ABNORMAL))
    assert status == 200 and "已收到" in html and "只有表头" not in html
    header = [c for c in ABNORMAL if c != "异常类型"]
    status, html = await upload(w, card_url(w.last_card("guoyan")), xlsx(header))  # still checked: columns
    assert status == 422 and "缺少列：异常类型" in html
    await upload(w, card_url(w.last_card("guoyan")), xlsx(ABNORMAL, ["2024101", "王五", "计网2401", "学籍异常", "身份证号错误"]))
    await upload(w, card_url(w.last_card("caiqh")), xlsx(ABNORMAL, ["2024201", "赵六", "会计2401", "未报到", "未联系上"]))
    await upload(w, card_url(w.last_card("yeqing")), xlsx(ABNORMAL))

    merged = card_text(merged_card(w))
    assert "已收齐" in merged and "未上传" not in merged and "共 2 行" in merged
    rows = await download(w, card_url(merged_card(w)))
    assert rows[0] == ["系部"] + ABNORMAL and sorted(r[0] for r in rows[1:]) == ["信息工程系", "经济管理系"]
