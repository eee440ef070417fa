"""The bars of propmap's long steps: drawn on stderr, on a terminal only."""

import rich.console

from propmap.utils._progress import tracked, work_bar


def test_off_a_terminal_nothing_is_drawn(capsys):
    items = [1, 2, 3]
    assert tracked(items, "reading", True) is items
    with work_bar("fitting", 3.0, True) as advance:
        advance(3.0)
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""


def test_on_a_terminal_the_bars_go_to_stderr(monkeypatch, capsys):
    monkeypatch.setattr(rich.console.Console, "is_terminal", property(lambda s: True))
    assert list(tracked(range(4), "reading", True)) == [0, 1, 2, 3]
    with work_bar("fitting", 2.0, True) as advance:
        advance(1.0)
        advance(1.0, total=2.0)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "reading" in captured.err
    assert "fitting" in captured.err
    # not asked for: nothing, terminal or not
    assert list(tracked(range(2), "quiet", False)) == [0, 1]
    assert "quiet" not in capsys.readouterr().err
