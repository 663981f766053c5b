"""The people tests act as, by userid from the shipped demo directory, and a seed
for apps that start without it."""
from __future__ import annotations

from models import Person

TEACHER = "sunlt"  # 孙丽婷, 机电工程系 任课教师
HEAD = "chenzr"  # 陈志荣, 机电工程系 系部主任
OTHER_HEAD = "xuhm"  # 徐慧敏, 信息工程系 系部主任
LEADER = "zhaogm"  # 赵国民, 教务处分管领导
OFFICE = "wangjw"  # 王建伟, 教务处: starts every run here, so owns it
OFFICE_STAFF = ("wangjw", "liuyf")  # 教务处: both get each 教务处 task
SECRETARY_IT = "guoyan"  # 郭燕, 信息工程系 教学秘书 (the class 计网2401 is theirs)
# Every teaching department's 教学秘书: 通识教育部 is one of them (a 系部 step reaches it too).
SECRETARIES = {"机电工程系": "linms", "信息工程系": "guoyan", "经济管理系": "caiqh", "通识教育部": "yeqing"}
GENERAL_TEACHERS = ("songlp", "cuimin")  # 宋丽萍 (系部主任, teaches) and 崔敏, 通识教育部
COUNSELORS = ("huangfd", "zhoujs", "tangwj", "panxl")


async def seed(core) -> None:
    """The demo directory when the seed module exists, else a few people by hand."""
    async with core.db.session() as s:
        try:
            from bot.seed import seed_demo
        except ImportError:
            s.add_all([
                Person(userid=TEACHER, name="孙丽婷", department="机电工程系", roles_text="任课教师"),
                Person(userid=HEAD, name="陈志荣", department="机电工程系", roles_text="系部主任;任课教师"),
                Person(userid="wangjw", name="王建伟", department="教务处", roles_text="教务处"),
            ])
        else:
            await seed_demo(s)
