"""The public API: plain functions re-exported by ``pathdep``, doctests that run, py.typed."""

import doctest
import inspect
from pathlib import Path

import pathdep
from pathdep import api


def test_api_doctests_run():
    res = doctest.testmod(api, optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0


def test_pathdep_reexports_plain_functions():
    for name in api.TOP_LEVEL:
        assert getattr(pathdep, name) is getattr(api, name), name
    for name in ("train", "measure", "analyze", "report", "run", "demo", "load_spec",
                 "load_suite", "open_store", "barriers", "forking"):
        fn = getattr(pathdep, name)
        assert inspect.isfunction(fn), name
        assert fn.__doc__, name
    for name in ("rl", "prompts"):  # functions in pathdep.api; on pathdep, the packages
        assert inspect.isfunction(getattr(api, name))


def test_stage_packages_are_still_importable():
    from pathdep.measure import forward
    from pathdep.train import grid

    assert grid.expand_grid and forward.__name__ == "pathdep.measure.forward"


def test_measure_does_not_shadow_eval():
    assert "eval" not in inspect.signature(pathdep.measure).parameters
    assert "evalset" in inspect.signature(pathdep.measure).parameters


def test_package_is_typed():
    assert (Path(pathdep.__file__).parent / "py.typed").is_file()
    assert not (Path(pathdep.__file__).parent / "_callable.py").exists()


def test_every_command_has_a_function_of_its_name():
    from pathdep.cli import app

    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    missing = {n for n in names - {"validate", "suites", "ls"} if not hasattr(api, n)}
    assert missing == set()


def test_the_lazy_names_of_pathdep_are_those_of_pathdep_api():
    """pathdep's __all__ repeats api's names (for type checkers); the two must not drift apart."""
    import pathdep
    import pathdep.api as api

    for name in pathdep.__all__:
        assert getattr(pathdep, name) is getattr(api, name, getattr(pathdep, name)), name
    assert set(pathdep.__all__) - {"__version__"} <= set(api.__all__)
