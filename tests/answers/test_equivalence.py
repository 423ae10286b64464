import threading
import time

from thinktime.answers import equivalence
from thinktime.answers.equivalence import equivalent


def test_numeric_forms():
    assert equivalent("18", "18.0")
    assert equivalent("1,000", "1000")
    assert equivalent("$5", "5")
    assert not equivalent("17", "18")
    assert not equivalent(None, "1")
    assert not equivalent(None, None)


def test_symbolic_via_math_verify():
    assert equivalent("\\frac{1}{2}", "0.5")
    assert equivalent("x+1", "1+x")
    assert equivalent("\\sqrt{4}", "2")
    assert not equivalent("\\frac{1}{3}", "0.5")


def test_safe_off_the_main_thread():
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(equivalent("\\frac{2}{4}", "0.5", 5.0)))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 4


def test_time_bound(monkeypatch):
    def slow(a, b):
        time.sleep(2)
        return True

    monkeypatch.setattr(equivalence, "_math_verify", slow)
    equivalent.cache_clear()
    started = time.perf_counter()
    assert equivalent("a^{b}", "c^{d}", 0.2) is False
    assert time.perf_counter() - started < 1.5
    equivalent.cache_clear()
