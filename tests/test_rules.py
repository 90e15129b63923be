"""The answer stage's word rules, as data: each entry with a case it must catch and one it must leave alone,
written from text other than the eval questions. The defects listed in issue 17 are among the cases, each one
a case the earlier regex rules got wrong."""
from __future__ import annotations

import pytest

from rag.answer.cite import _identifiers, is_refusal, support
from rag.asked import answers_asked, gives, in_scope
from rag.names import NOT_ORGS, NOT_PLACES, ORG_HEADS, organisations, places
from rag.rewrite import NOT_PRONOUNS, PRONOUNS, Turn, is_follow_up


@pytest.mark.parametrize(("text", "found"), [
    ("会议在长沙市召开", ["长沙市"]), ("代表团来自北京", ["北京"]), ("岳麓区新开一所学校", ["岳麓区"]),
    ("公司计划明年上市", []), ("社区工作人员上门", []), ("城市更新项目", []), ("小区物业费下调", []),
])
def test_places(text: str, found: list[str]) -> None:
    assert places(text) == found


@pytest.mark.parametrize("word", sorted(NOT_PLACES))
def test_not_places_are_words_jieba_would_tag_as_places(word: str) -> None:
    assert places(f"在{word}") == [] and places(f"在{word}的岳阳县") == ["岳阳县"]


@pytest.mark.parametrize(("text", "found"), [
    ("国家统计局发布数据", ["国家统计局"]), ("长沙市教育局通知", ["教育局"]), ("湖南省发展改革委牵头", ["湖南省发展改革委"]), ("市场监管总局约谈平台", ["市场监管总局"]),
    ("长沙银行推出贷款", ["长沙银行"]), ("湘潭大学的团队", ["湘潭大学"]),
    ("构建新发展格局", []), ("实现良好开局", []), ("坚持以人民为中心的发展思想", []), ("多家上市公司", []),
])
def test_organisations(text: str, found: list[str]) -> None:
    assert organisations(text) == found


@pytest.mark.parametrize("word", sorted(NOT_ORGS))
def test_not_orgs_never_count(word: str) -> None:
    assert organisations(f"形成{word}") == [] and organisations(f"形成{word}，国家统计局说") == ["国家统计局"]


@pytest.mark.parametrize("head", sorted(ORG_HEADS))
def test_an_org_head_counts_after_a_name_only(head: str) -> None:
    assert organisations(f"长沙{head}成立") != [] and organisations(f"以人民为{head}") == []


@pytest.mark.parametrize(("kind", "answer", "question", "given"), [
    ("organisation", "项目由湖南省发展改革委负责。", "项目由哪个部门负责？", True),
    ("organisation", "要加快构建新发展格局。", "由哪个部门牵头？", False),
    ("organisation", "实现了“十五五”良好开局。", "什么机构发布的？", False),
    ("organisation", "坚持以人民为中心。", "哪家机构提出的？", False),
    ("place", "企业将在株洲市建厂。", "在哪个城市建厂？", True),
    ("place", "公司计划明年上市。", "在哪个城市上市？", False),
    ("place", "活动在社区举行。", "在哪个区举行？", False),
    ("date", "共有1000家企业参加。", "什么时候举办的？", False),
    ("date", "2019年开工。", "哪一年开工？", True),
    ("date", "It opened in 2019.", "When did it open?", True),
    ("date", "总投资2000万元。", "何时完工？", False),
])
def test_gives(kind: str, answer: str, question: str, given: bool) -> None:
    assert gives(kind, answer, question) is given


def test_who_leads_is_answered_by_a_person() -> None:
    # "由谁" asks for a person as often as for an organisation: a name answers it
    assert answers_asked("这项工作由谁负责？", "这项工作由副市长李明负责[1]。")


@pytest.mark.parametrize(("text", "refusal"), [
    ("资料中没有找到这个问题的答案。", True), ("资料中并没有直接提到签约金额。", True), ("文中未提及具体时间。", True),
    ("但没有提到具体金额。", True), ("资料不包含这一信息。", True), ("The documents do not contain the answer.", True),
    ("该补贴不包含住房公积金。", False), ("新规未提及的企业不受影响。", False), ("他没有提到自己的名字就离开了。", False),
    ("门票价格不包含导览服务。", False),
])
def test_refusals_speak_of_the_documents(text: str, refusal: bool) -> None:
    assert is_refusal(text) is refusal


@pytest.mark.parametrize(("question", "follow_up"), [
    ("它的总投资是多少？", True), ("该项目何时完工？", True), ("这家公司在哪里？", True), ("他们来自哪里？", True),
    ("其中有几家上市？", True), ("应该怎么申请补贴？", False), ("因此政府采取了什么措施？", False),
    ("其他城市有什么做法？", False), ("尤其是哪个领域增长最快？", False), ("这次会议有多少人参加？", False),
])
def test_follow_up_pronouns_are_words_not_characters(question: str, follow_up: bool) -> None:
    assert is_follow_up(question) is follow_up


@pytest.mark.parametrize("word", sorted(PRONOUNS))
def test_each_pronoun_makes_a_follow_up(word: str) -> None:
    assert is_follow_up(f"{word}的地址在哪？")


@pytest.mark.parametrize("word", sorted(NOT_PRONOUNS))
def test_each_non_pronoun_leaves_a_question_alone(word: str) -> None:
    assert not is_follow_up(f"{word}长沙有什么新政策？")


SPAN_FLIGHT = "CZ3101航班备降武汉，机上共有132人，其中旅客123人、机组9人。"


@pytest.mark.parametrize(("claim", "supported"), [
    ("The ticker is B00001.", False), ("The flight was CZ3102.", False), ("机上共有132人，航班号CZ3101。", True),
    ("There were 132 people on board.", True),
])
def test_identifiers_must_stand_in_the_span(claim: str, supported: bool) -> None:
    assert (support(claim, SPAN_FLIGHT) >= 0.5) is supported


@pytest.mark.parametrize(("claim", "span", "supported"), [
    ("平台由华为建设", "平台由本地企业建设", False),  # a name the source does not give
])
def test_a_name_the_claim_brings_in_must_stand_in_the_span(claim: str, span: str, supported: bool) -> None:
    assert (support(claim, span) >= 0.5) is supported


def test_identifiers() -> None:
    assert _identifiers("5G基站、C919和CZ3101，2025年，共100家") == {"5g", "c919", "cz3101"}


@pytest.mark.parametrize(("question", "source", "scoped"), [
    ("2019年全省油菜籽产量是多少？", "2019年全省油菜籽总产量230万吨", True),
    ("2019年全省油菜籽产量是多少？", "2020年全省油菜籽总产量236万吨", False),  # a neighbouring year
    ("2022赛季的联赛冠军是谁？", "2021-22赛季总决赛，辽宁队夺冠", True),  # a season by the year it ends
    ("2022赛季的联赛冠军是谁？", "2020-21赛季总决赛，广东队夺冠", False),
    ("第六届大赛在哪里举办？", "第6届大赛在厦门举办", True), ("第六届大赛在哪里举办？", "第五届大赛在苏州举办", False),
    ("今年春节假期出游多少人次？", "除夕至初六，全国出游3.08亿人次", True),
    ("今年春节假期出游多少人次？", "五一假期全国出游2.74亿人次", False),  # another holiday
    ("共有1000家企业参加了吗？", "共有800家企业参加", True),  # 1000 is a number, not a year
])
def test_in_scope(question: str, source: str, scoped: bool) -> None:
    assert in_scope(question, source) is scoped


def test_a_claim_from_another_year_is_not_supported() -> None:
    from rag.answer.cite import check_answer
    from rag.types import Chunk, Passage

    text = "2020年全省油菜籽总产量236万吨，比上年增加6万吨。"
    passage = Passage(Chunk(id="c", article_id="a", text=text, start=0, end=len(text)), rank=1, score=1.0)
    question = "2019年全省油菜籽产量是多少？"
    assert check_answer("全省油菜籽总产量236万吨[1]。", [passage], question)[1]  # the scope is not checked
    _, citations, dropped = check_answer("全省油菜籽总产量236万吨[1]。", [passage], question, source=lambda p: text)
    assert not citations and dropped


def test_the_library_has_no_import_cycles() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    modules = {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
               for p in (root / "rag").rglob("*.py")}

    def owner(name: str) -> str:
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        return name

    graph = {m: {owner(n.module) for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
                 if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("rag")} - {m}
             for m, p in modules.items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or n not in seen and not seen.add(n) and reaches(n, goal, seen) for n in graph[start])

    assert [m for m in graph if reaches(m, m, set())] == []


@pytest.mark.parametrize(("question", "parts"), [
    ("省运会湘潭和衡阳代表团人数？", ["省运会湘潭代表团人数", "省运会衡阳代表团人数"]),
    ("株洲和湘潭2019年的常住人口分别是多少？", ["株洲2019年的常住人口是多少", "湘潭2019年的常住人口是多少"]),
    ("2019年和2020年端午档首日的票房冠军是哪部片？", ["2019年端午档首日的票房冠军是哪部片", "2020年端午档首日的票房冠军是哪部片"]),
    ("新馆的开馆时间和地点？", ["新馆的开馆时间", "新馆的开馆地点"]),
    ("展览是哪天开幕的？那幅画是谁画的？", ["展览是哪天开幕的", "那幅画是谁画的"]),
    # 和 after an adverb, or between two verbs, joins no two things asked of
    ("目前有多少家企业已经和园区的龙头企业签订了长期合同？", ["目前有多少家企业已经和园区的龙头企业签订了长期合同"]),
    ("签约和采购金额是多少？", ["签约和采购金额是多少"]),
    # two things of two words each, alike in their tags
    ("长沙市市长和株洲市市长分别是谁？", ["长沙市市长是谁", "株洲市市长是谁"]),
    # two nouns after a run of nouns of one tag: the run says nothing of where a thing begins
    ("省运会决赛男单和女单冠军来自哪里？", ["省运会决赛男单冠军来自哪里", "省运会决赛女单冠军来自哪里"]),
    # "哪些A和B": one list of both is asked for
    ("报告提出了哪些行动和举措？", ["报告提出了哪些行动和举措"]),
])
def test_question_parts_split_two_things_asked_of(question: str, parts: list[str]) -> None:
    from rag.asked import analyse

    assert [p.text for p in analyse(question).parts] == parts


def test_a_part_scoped_to_one_year_is_answered_by_a_page_on_it() -> None:
    assert in_scope("2019年和2020年端午档首日的票房冠军是哪部片？", "2019年端午档首日，《湘江北去》夺冠")
    assert not in_scope("2019年和2020年端午档首日的票房冠军是哪部片？", "2018年端午档首日，《岳麓书声》夺冠")


def test_a_question_is_analysed_once_into_parts_kinds_and_scope() -> None:
    from rag.asked import analyse

    q = analyse("2023年五一假期全国出游多少人次？收入是多少？")
    assert not q.english and [p.text for p in q.parts] == ["2023年五一假期全国出游多少人次", "收入是多少"]
    assert [p.kinds for p in q.parts] == [("quantity",), ("quantity",)]
    assert len(q.scopes) == 2 and q.parts[1].scopes == ()  # the year and the holiday; the second part says neither
    assert analyse("2023年五一假期全国出游多少人次？收入是多少？") is q  # analysed once
    assert analyse("Who chaired the meeting?").english


@pytest.mark.parametrize(("answer", "claim"), [
    ("根据资料[1]和[2]，龙舟赛共有40支队伍参赛。", "龙舟赛共有40支队伍参赛。"),  # talk about the sources goes
    ("据上述资料显示，新馆12月开放[1]。", "新馆12月开放。"),
    ("首位获奖者是资料中提到的张明[2]。", "首位获奖者是张明。"),
    ("档案馆收集了一批资料，供市民查阅[1]。", "档案馆收集了一批资料，供市民查阅。"),  # 资料 as what the claim is about
    ("根据规划，新区明年建成[1]。", "根据规划，新区明年建成。"),
])
def test_talk_about_the_sources_is_no_part_of_a_claim(answer: str, claim: str) -> None:
    from rag.answer.claims import split_claims

    assert [c.text for c in split_claims(answer)] == [claim]


@pytest.mark.parametrize("follow_up, previous, rewritten", [
    # a Chinese follow-up after an English question stays Chinese, its pronoun the name the answer gave
    ("那它离新区多远？", Turn("Which county joined the new economic zone?", "长宁县 joined the zone[1]."),
     "那长宁县离新区多远？"),
    # an English follow-up after a Chinese question stays English
    ("How big is its output?", Turn("哪家公司在衡阳建了新工厂？", "华鑫公司在衡阳建了新工厂[1]。"),
     "How big is 华鑫公司's output?"),
    # nothing to point to: taken as it is, not glued to a question of the other language
    ("那它呢？", Turn("What was signed?", "Nothing was found."), "那它呢？"),
])
def test_a_follow_up_in_another_language_is_rewritten_in_its_own(follow_up: str, previous: Turn, rewritten: str) -> None:
    from rag.rewrite import rule_rewrite

    assert rule_rewrite(follow_up, [previous]).question == rewritten
