from thinktime.answers.voting import classes, vote


def test_majority_over_equivalent_forms():
    winner, table = vote(["18", "18.00", "17", "$18", None])
    assert winner == "18"
    assert table == {"18": 3.0, "17": 1.0}


def test_tie_goes_to_first_seen():
    assert vote(["4", "3", "3", "4"])[0] == "4"
    assert vote(["3", "4", "4", "3"])[0] == "3"


def test_no_answers():
    assert vote([None, None]) == (None, {})
    assert vote([]) == (None, {})


def test_weighted():
    winner, table = vote(["1", "2", "2"], weights=[0.9, 0.3, 0.4])
    assert winner == "1"
    assert abs(table["2"] - 0.7) < 1e-9


def test_classes_use_first_representative():
    assert classes(["0.5", "\\frac{1}{2}", "2", None]) == [0, 0, 2, None]
