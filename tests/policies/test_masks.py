from kernel import masks
from kernel.identifiers import resident_id_check_char, uscc_check_char


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


DIGIT_USCC = "91440304056715996" + uscc_check_char("91440304056715996")  # 91440304056715996L


def valid_as_both() -> str:
    """A resident ID that is also a valid USCC (digits only, both check characters agree)."""
    for seq in range(1000):
        body = f"110119198001{seq % 28 + 1:02d}{seq:03d}"[:17]
        check = resident_id_check_char(body)
        if uscc_check_char(body) == check:
            return body + check
    raise AssertionError("no value valid as both")


def test_a_party_is_told_by_the_real_checks_and_what_its_record_says() -> None:
    """A USCC whose first 17 characters are digits is an enterprise, not a person: the resident
    ID's checks (birth date, ISO 7064 check) and the USCC's (alphabet, GB 32100 check) decide
    where they can; where the value could be either or neither, what the record says it is,
    else a person."""
    person, both = "11010519491231002X", valid_as_both()
    assert masks.party_type(DIGIT_USCC) == "Enterprise"
    assert masks.party_type("91350100M000100Y43") == "Enterprise"
    assert masks.party_type(person) == "Person"
    assert masks.party_type(both) == "Person"  # no word from the record: the protective side
    assert masks.party_type(both, "enterprise") == "Enterprise"
    assert masks.party_type(both, "person") == "Person"
    assert masks.party_type("110105491231002", "enterprise") == "Enterprise"  # neither: the record
    assert masks.party_type("110105491231002") == "Person"
    # the checks outweigh the record: a valid resident ID is never shown as an enterprise's
    assert masks.party_type(person, "enterprise") == "Person"
    assert masks.party_type(DIGIT_USCC, "person") == "Enterprise"
    assert masks.party_type(both, " Enterprise ") == "Enterprise"
    # the mask follows the same decision
    assert masks.apply("party_id", DIGIT_USCC) == DIGIT_USCC
    assert masks.apply("party_id", both) == masks.resident_id(both)
    assert masks.apply("party_id", both, "enterprise") == both
    assert masks.apply("party_id", [DIGIT_USCC, person]) == [DIGIT_USCC, masks.resident_id(person)]
