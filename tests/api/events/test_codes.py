from api.events.codes import ALPHABET, new_code, normalize_code


def test_new_codes_are_three_dashes_three_from_the_unambiguous_alphabet() -> None:
    for _ in range(200):
        code = new_code()
        assert len(code) == 7 and code[3] == "-"
        assert all(c in ALPHABET for c in code.replace("-", ""))
    assert not set("0O1IL2Z5S8B") & set(ALPHABET)


def test_typed_codes_are_normalized() -> None:
    assert normalize_code("k7q-4mx") == "K7Q-4MX"
    assert normalize_code("kfq 4mx") == "KFQ-4MX"
    assert normalize_code(" kfq4mx ") == "KFQ-4MX"
    assert normalize_code("KFQ-4M") is None
    assert normalize_code("KFQ-4M0") is None
