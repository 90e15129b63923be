"""Whether an answer gives the kind of fact its question asks for (rag/asked.py)."""
from __future__ import annotations

import pytest

from rag.asked import answers_asked, asked_kinds


@pytest.mark.parametrize("part, kinds", [
    ("双方具体按几比几分成", ["ratio"]),
    ("目前湖南本地高端电机的省内配套率是多少", ["rate", "quantity"]),
    ("道县的活动是几月几号举办的", ["date"]),
    ("什么时候开始施行", ["date"]),
    ("益阳有多少家企业", ["quantity"]),
    ("智能产线几分钟就能出一台挖机", ["quantity"]),
    ("What pre-sales answer rate did it reach", ["rate"]),
    ("How many teams signed up", ["quantity"]),
    ("株洲要加快建设哪几个基地", []),  # "which ones", not "how many"
    ("那组照片是谁拍的", []),
    ("重点在哪些领域搞协作配套", []),
    ("湖南智通星辰科技有限公司的总部设在湖南哪个城市", ["place"]),
    ("小女孩被救出后被转移到哪里", []),  # "转移到安全区域" answers it: not judged
    ("2023世界机器人大会将在哪个城市举办", ["place"]),
    ("提升本质安全水平的诀窍藏在哪两个字里", []),  # "在哪两个" asks for words, not a place
    ("分别是在哪个赛道", []),
    ("《实施意见》是哪个部门印发的", ["organisation"]),
])
def test_asked_kinds(part: str, kinds: list[str]) -> None:
    assert asked_kinds(part) == kinds


@pytest.mark.parametrize("question, answer, ok", [
    # on the topic, without the asked figure: not an answer
    ("飞地新增企业的税收，双方具体按几比几分成？", "双方按一定比例分成[1]。", False),
    ("目前湖南本地高端电机的省内配套率是多少？", "省内配套率有较大提升空间[2]。", False),
    ("活动是几月几号举办的？", "活动在道县举办[3]。", False),
    ("How many teams signed up?", "Many teams signed up [1].", False),
    # a date word the answer repeats from the question is not the date asked for
    ("道县的“清明祭英烈”主题活动是几月几号举办的？", "各地开展“传承红色基因·清明祭英烈”活动[1]。", False),
    ("公司的总部设在湖南哪个城市？", "公司的总部设在湖南[1]。", False),  # the province the question names
    ("《实施意见》是哪个部门印发的？从什么时候开始施行？", "《实施意见》是株洲市印发的[2]。", False),
    # the asked kind is there
    ("公司的总部设在湖南哪个城市？", "总部设在长沙[1]。", True),
    ("大会将在哪个城市举办？", "大会在北京经济技术开发区亦创国际会展中心举办[2]。", True),
    ("总部设在湖南哪个城市？", "总部设在株洲市[1]。", True),
    ("《实施意见》是哪个部门印发的？", "由湖南省民政厅印发[1]。", True),
    ("双方具体按几比几分成？", "双方按3:7分成[1]。", True),
    ("双方具体按几比几分成？", "按三七开、即七成归益阳[1]。", True),
    ("省内配套率是多少？", "省内配套率不到30%[2]。", True),
    ("活动是几月几号举办的？", "活动于4月3日举办[1]。", True),
    ("益阳有多少家企业？", "益阳已有18家企业[1]。", True),
    ("有几家企业获奖？", "两家湘企获奖[1]。", True),
    ("What pre-sales answer rate did it reach?", "It reached 98% [1].", True),
    # a question with a part of another kind is not judged by this rule
    ("雾凇是哪天出现的？照片是谁拍的？", "照片是曹正平、文兰拍的[1]。", True),
    ("重点在哪些领域搞协作配套？", "工程机械零部件等领域[1]。", True),
    # one asked part answered is enough: the other may be missing from the passages
    ("哪个部门印发的？从什么时候开始施行？", "由省民政厅印发[1]。", True),
    ("有多少家？其中几家在境外？", "共14家[1]。", True),
])
def test_answers_asked(question: str, answer: str, ok: bool) -> None:
    assert answers_asked(question, answer) is ok


@pytest.mark.parametrize("question,claims,left", [
    ("南岳衡山的雪后雾凇是哪天出现的？那组照片是谁拍的？", ["南岳衡山的雪后雾凇是12月13日出现的[1]。"], ["那组照片是谁拍的"]),
    ("湖南在审及境外上市待备案的企业有多少家？其中境外待备案的有几家？整个上市后备梯队一共多少家？",
     ["整个上市后备梯队一共19家[1]。"], ["湖南在审及境外上市待备案的企业有多少家", "其中境外待备案的有几家"]),
    ("益阳说的“双轮驱动”具体是哪两个轮子？各自发挥什么作用？", ["“双轮驱动”是“产业飞地”和“科创飞地”[1]。"],
     ["各自发挥什么作用"]),
    ("第六届中国人工智能大赛一共设了几道赛题？有多少支队伍报名？", ["大赛一共设了10道赛题[1]。", "有近700支队伍报名[1]。"], []),
    ("湖南有多少家电机企业？电机产业总产值有多大？", ["湖南有电机企业近500家[1]。", "电机产业总产值很大[1]。"],
     ["电机产业总产值有多大"]),  # the words are there, the amount is not
    ("桃江县都有哪些响亮的名片？", [], []),  # one part: not judged here
    # a claim answers the part it holds most of: the 7 of "其中境外……" does not answer the 在审 part
    ("湖南在审及境外上市待备案的企业有多少家？其中境外待备案的有几家？整个上市后备梯队一共多少家？",
     ["整个上市后备梯队一共19家[1]。", "其中境外待备案的有7家[1]。"], ["湖南在审及境外上市待备案的企业有多少家"]),
    # one sentence answering both parts, a clause each
    ("湖南现在大概有多少家电机企业？电机产业总产值有多大？", ["湖南电机企业大约有500家，电机产业总产值达1000亿元[1]。"], []),

    # a label and its value joined by a colon are one clause: the label's words and the figure go together
    ("去年全市接待游客多少人次？旅游收入是多少？", ["去年全市接待游客：3200万人次，同比增长8%[1]。",
                                            "去年全市旅游收入：260亿元[2]。"], []),
    ("去年全市接待游客多少人次？旅游收入是多少？", ["去年全市接待游客：同比增长较快[1]。", "去年全市旅游收入：260亿元[2]。"],
     ["去年全市接待游客多少人次"]),
])
def test_unanswered_parts(question: str, claims: list[str], left: list[str]) -> None:
    from rag.asked import unanswered_parts

    assert unanswered_parts(question, claims) == left
