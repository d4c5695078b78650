import pytest

from nlp.rules import apply_rules, join_touching, value_label


def _texts(text, spans):
    return [(text[s:e], label) for s, e, label, _ in spans]


def test_touching_pieces_of_one_name_are_joined_but_not_two_labels():
    text = "关于进一步提升市级医院能力实施方案"
    spans = [(0, 7, "PROGRAMME", 0.6), (7, 17, "PROGRAMME", 0.9)]
    assert _texts(text, join_touching(spans)) == [(text, "PROGRAMME")]
    mixed = [(0, 7, "INSTITUTION", 0.6), (7, 17, "PROGRAMME", 0.9)]
    assert len(join_touching(mixed)) == 2
    apart = [(0, 6, "PROGRAMME", 0.6), (7, 17, "PROGRAMME", 0.9)]
    assert len(join_touching(apart)) == 2


def test_joined_score_is_length_weighted():
    (span,) = join_touching([(0, 1, "MONEY", 0.2), (1, 4, "MONEY", 0.6)])
    assert span[3] == pytest.approx(0.5)


@pytest.mark.parametrize("text, spans, expected", [
    # a value split in two (RATIO + MONEY) becomes one MONEY: the unit decides
    ("个人应付的1073.15元实现全免", [(5, 7, "RATIO", 0.5), (7, 13, "MONEY", 0.9)], [("1073.15元", "MONEY")]),
    # a number just before % takes it in and becomes a RATIO
    ("比例达到92.5%。", [(4, 8, "MONEY", 0.7)], [("92.5%", "RATIO")]),
    ("可报销90%,也就是", [(3, 5, "MONEY", 0.7)], [("90%", "RATIO")]),
    # the label follows the unit
    ("占比九成", [(2, 4, "MONEY", 0.7)], [("九成", "RATIO")]),
    ("百分之八十的人", [(0, 5, "MONEY", 0.7)], [("百分之八十", "RATIO")]),
    ("投入两百元", [(2, 5, "RATIO", 0.7)], [("两百元", "MONEY")]),
    ("花费二十多万,医保", [(2, 6, "MONEY", 0.7)], [("二十多万", "MONEY")]),
    # numbers without a unit are counts, not values
    ("床位数合计3410张", [(5, 9, "MONEY", 0.7)], []),
    ("消化土豆4萬餘斤", [(4, 6, "RATIO", 0.7)], []),
    ("消化土豆4萬餘斤", [(4, 6, "MONEY", 0.7)], []),
    ("关乎千家万户", [(2, 5, "MONEY", 0.7)], []),
    ("面积由80平方米", [(3, 5, "RATIO", 0.7)], []),
    # one-character names are dropped, longer ones kept
    ("卫生室建设", [(2, 3, "INSTITUTION", 0.9), (0, 3, "PROGRAMME", 0.9)], [("卫生室", "PROGRAMME")]),
    # a place alone is not an institution; a place's institution is
    ("沁源縣投入", [(0, 3, "INSTITUTION", 0.9)], []),
    ("山东省和北京", [(0, 3, "INSTITUTION", 0.9), (4, 6, "INSTITUTION", 0.9)], []),
    ("沁源縣人民醫院", [(0, 7, "INSTITUTION", 0.9)], [("沁源縣人民醫院", "INSTITUTION")]),
    # a class of institutions is not an institution; a specific one, or a short reference, is
    ("去鄉鎮衛生院看病", [(1, 6, "INSTITUTION", 0.9)], []),
    ("享受三甲医院专家服务", [(2, 6, "INSTITUTION", 0.9)], []),
    ("3家社区卫生服务中心", [(2, 10, "INSTITUTION", 0.9)], []),
    ("杜村衛生院", [(0, 5, "INSTITUTION", 0.9)], [("杜村衛生院", "INSTITUTION")]),
    ("县医院聘请专家", [(0, 3, "INSTITUTION", 0.9)], [("县医院", "INSTITUTION")]),
    ("荷塘街道社区卫生服务中心", [(0, 12, "INSTITUTION", 0.9)], [("荷塘街道社区卫生服务中心", "INSTITUTION")]),
    # an institution starts on the place name that begins it
    ("去年,即墨区人民医院和", [(4, 10, "INSTITUTION", 0.9)], [("即墨区人民医院", "INSTITUTION")]),
    ("——記連平縣英才學校", [(2, 10, "INSTITUTION", 0.9)], [("連平縣英才學校", "INSTITUTION")]),
    ("因为在上海作协工作", [(2, 7, "INSTITUTION", 0.9)], [("上海作协", "INSTITUTION")]),
    ("湖南日报·新湖南客户端", [(5, 11, "INSTITUTION", 0.9)], [("新湖南客户端", "INSTITUTION")]),
    ("和平縣人民醫院", [(0, 7, "INSTITUTION", 0.9)], [("和平縣人民醫院", "INSTITUTION")]),
    ("在上海", [(0, 3, "INSTITUTION", 0.9)], []),
    ("红网即墨区人民医院", [(0, 3, "PROGRAMME", 0.9), (3, 9, "INSTITUTION", 0.9)],
     [("红网即", "PROGRAMME"), ("墨区人民医院", "INSTITUTION")]),  # not into the span before
    # a programme inside quotes is the whole quoted name; pieces of one quote become one span
    ("貫徹落實「健康中國」戰略", [(7, 9, "PROGRAMME", 0.8)], [("健康中國", "PROGRAMME")]),
    ("推动“中国好水·万绿湖开渔啦”活动", [(3, 7, "PROGRAMME", 0.8), (8, 10, "PROGRAMME", 0.6)],
     [("中国好水·万绿湖开渔啦", "PROGRAMME")]),
    ("根据《沁源县医疗救助补充办法》的规定", [(3, 8, "PROGRAMME", 0.8)], [("沁源县医疗救助补充办法", "PROGRAMME")]),
    ("国家“十四五”规划", [(3, 6, "PROGRAMME", 0.8)], [("十四五", "PROGRAMME")]),
    # ... but not across a clause end or from outside the quotes
    ("“好”。健康扶贫工作", [(4, 8, "PROGRAMME", 0.8)], [("健康扶贫", "PROGRAMME")]),
    ("健康扶贫“一站式”", [(0, 4, "PROGRAMME", 0.8)], [("健康扶贫", "PROGRAMME")]),
    # trailing clause punctuation and value edges
    ("天坛医院,", [(0, 5, "INSTITUTION", 0.9)], [("天坛医院", "INSTITUTION")]),
    ("共80元的", [(1, 5, "MONEY", 0.9)], [("80元", "MONEY")]),
])
def test_rules(text, spans, expected):
    assert _texts(text, apply_rules(text, spans)) == expected


def test_value_label_by_unit():
    assert value_label("5‰", 0, 2) == "RATIO"
    assert value_label("三分之一", 0, 4) == "RATIO"
    assert value_label("5万港币", 0, 4) == "MONEY"
    assert value_label("6000塊錢", 0, 6) == "MONEY"
    assert value_label("3410", 0, 4) is None
