from policies import masks


def test_masks_keep_only_what_the_issue_allows() -> None:
    assert masks.apply("resident_id", "11010519491231002X") == "110105********002X"
    assert masks.apply("account", "6222020000000000034") == "**** 0034"
    assert masks.apply("name", "欧阳娜娜") == "欧阳**"  # a compound surname is one surname
    assert masks.apply("name", "欧阳") == "欧*"  # surname 欧, given name 阳
    assert masks.apply("name", "欧小明") == "欧**"
    assert masks.apply("name", "王") == "王*"
    assert masks.apply("amount", 1_234_567.0) == 1_000_000.0
    assert masks.apply("amount", 999.0) == 100.0
    assert masks.apply("amount", 0.0) == 0.0
    assert masks.apply("party_id", "11010519491231002X") == "110105********002X"
    assert masks.apply("party_id", "91350100M000100Y43") == "91350100M000100Y43"
    assert masks.apply("account", None) is None
    assert masks.apply("name", ["张三", "李四"]) == ["张*", "李*"]
