"""The timing harness measures what it is given: interleaved rounds, medians in seconds."""
import time

from mmfilter.benchmark.timing import time_call, time_interleaved


def _sleeping(seconds: float, calls: list):
    def run():
        calls.append(seconds)
        time.sleep(seconds)
    return run


def test_interleaved_medians_follow_the_work_and_every_runner_runs_each_round():
    calls = []
    medians = time_interleaved({'short': _sleeping(0.01, calls), 'long': _sleeping(0.04, calls)},
                               'cpu', repeats=3, warmup=1)
    assert calls == [0.01, 0.04] * 4  # warm-up round, then three interleaved rounds
    assert 0.01 <= medians['short'] < 0.04 <= medians['long'] < 0.2
    assert 0.02 <= time_call(_sleeping(0.02, []), 'cpu') < 0.2
