"""Whether an answer gives the kind of fact its question asks for (rag/asked.py)."""
from __future__ import annotations

import pytest

from rag.asked import answers_asked, asked_kinds


@pytest.mark.parametrize("part, kinds", [
    ("门票收入按几比几分配", ["ratio"]),
    ("目前全市5G网络的覆盖率是多少", ["rate", "quantity"]),
    ("龙舟赛是几月几号举办的", ["date"]),
    ("新规从什么时候开始施行", ["date"]),
    ("园区有多少家企业", ["quantity"]),
    ("新产线几分钟就能下线一台电机", ["quantity"]),
    ("What share of orders did it deliver on time", ["ratio"]),
    ("How many runners took part", ["quantity"]),
    ("湘潭要加快建设哪几个园区", []),  # "which ones", not "how many"
    ("那张照片是谁拍的", []),
    ("两市在哪些领域开展合作", []),
    ("星沙智造的研发中心落户湖南哪个城市", ["place"]),
    ("受困群众被转移到哪里", []),  # "转移到安全区域" answers it: not judged
    ("明年的博览会将在哪个城市举办", ["place"]),
    ("这篇评论的要点藏在哪两个字里", []),  # "在哪两个" asks for words, not a place
    ("分别是在哪个组别", []),
    ("《管理办法》由哪个部门发布", ["organisation"]),
])
def test_asked_kinds(part: str, kinds: list[str]) -> None:
    assert asked_kinds(part) == kinds


@pytest.mark.parametrize("question, answer, ok", [
    # on the topic, without the asked figure: not an answer
    ("门票收入按几比几分配？", "双方按约定比例分配[1]。", False),
    ("目前全市公交的新能源车占比是多少？", "新能源车占比还有较大提升空间[2]。", False),
    ("龙舟赛是几月几号举办的？", "龙舟赛在汨罗江举办[3]。", False),
    ("How many runners took part?", "Many runners took part [1].", False),
    # a date word the answer repeats from the question is not the date asked for
    ("汨罗的“端午龙舟赛”是几月几号举办的？", "各地开展“端午龙舟赛”活动[1]。", False),
    ("公司的研发中心落户湖南哪个城市？", "公司的研发中心落户湖南[1]。", False),  # the province the question names
    ("《管理办法》由哪个部门发布？自何时起执行？", "《管理办法》是湘潭市发布的[2]。", False),
    # the asked kind is there
    ("公司的研发中心落户湖南哪个城市？", "研发中心落户长沙[1]。", True),
    ("博览会将在哪个城市举办？", "博览会在长沙国际会展中心举办[2]。", True),
    ("研发中心落户湖南哪个城市？", "研发中心落户株洲市[1]。", True),
    ("《管理办法》由哪个部门发布？", "由湖南省民政厅发布[1]。", True),
    ("门票收入按几比几分配？", "双方按4:6分配[1]。", True),
    ("门票收入按几比几分配？", "按四六开、即六成归景区[1]。", True),
    ("新能源车占比是多少？", "新能源车占比超过80%[2]。", True),
    ("龙舟赛是几月几号举办的？", "龙舟赛于6月10日举办[1]。", True),
    ("园区有多少家企业？", "园区已有36家企业[1]。", True),
    ("有几家企业获奖？", "两家湘企获奖[1]。", True),
    ("What share of orders did it deliver on time?", "It delivered 96% on time [1].", True),
    # a question with a part of another kind is not judged by this rule
    ("展览是哪天开幕的？照片是谁拍的？", "照片是李明、王芳拍的[1]。", True),
    ("两市在哪些领域开展合作？", "新能源装备等领域[1]。", True),
    # one asked part answered is enough: the other may be missing from the passages
    ("由哪个部门发布？自何时起执行？", "由省民政厅发布[1]。", True),
    ("有多少家？其中几家是民营企业？", "共36家[1]。", True),
])
def test_answers_asked(question: str, answer: str, ok: bool) -> None:
    assert answers_asked(question, answer) is ok


@pytest.mark.parametrize("question,claims,left", [
    ("展览是哪天开幕的？那幅画是谁画的？", ["展览是5月8日开幕的[1]。"], ["那幅画是谁画的"]),
    ("园区新入驻的企业有多少家？其中民营企业有几家？今年累计签约多少个项目？",
     ["今年累计签约42个项目[1]。"], ["园区新入驻的企业有多少家", "其中民营企业有几家"]),
    ("湘潭说的“两翼齐飞”具体是哪两翼？各自发挥什么作用？", ["“两翼齐飞”是“智造”和“文旅”[1]。"],
     ["各自发挥什么作用"]),
    ("马拉松一共设了几个组别？有多少名选手报名？", ["马拉松一共设了4个组别[1]。", "有近3万名选手报名[1]。"], []),
    ("全省有多少家茶企？茶产业综合产值有多大？", ["全省有茶企近300家[1]。", "茶产业综合产值很大[1]。"],
     ["茶产业综合产值有多大"]),  # the words are there, the amount is not
    ("汨罗有哪些知名的特产？", [], []),  # one part: not judged here
    # a claim answers the part it holds most of: the 12 of "其中民营企业……" does not answer the first part
    ("园区新入驻的企业有多少家？其中民营企业有几家？今年累计签约多少个项目？",
     ["今年累计签约42个项目[1]。", "其中民营企业有12家[1]。"], ["园区新入驻的企业有多少家"]),
    # one sentence answering both parts, a clause each
    ("全省现在大概有多少家茶企？茶产业综合产值有多大？", ["全省茶企大约有300家，茶产业综合产值达200亿元[1]。"], []),

    # a label and its value joined by a colon are one clause: the label's words and the figure go together
    ("去年全市接待游客多少人次？旅游收入是多少？", ["去年全市接待游客：3200万人次，同比增长8%[1]。",
                                            "去年全市旅游收入：260亿元[2]。"], []),
    ("去年全市接待游客多少人次？旅游收入是多少？", ["去年全市接待游客：同比增长较快[1]。", "去年全市旅游收入：260亿元[2]。"],
     ["去年全市接待游客多少人次"]),
])
def test_unanswered_parts(question: str, claims: list[str], left: list[str]) -> None:
    from rag.asked import unanswered_parts

    assert unanswered_parts(question, claims) == left
