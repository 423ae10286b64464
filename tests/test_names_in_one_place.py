"""No strategy or task name in src/ outside its own module and the registry (issue 23).

Everything else reads what the spec declares (`StrategySpec.replies`, `.streams`, `.tokens`, …)
or the defaults the registries declare (`DEFAULT_STRATEGY`, `PLAIN`, `DEFAULT_TASK`), so a
plugin strategy or task gets every behaviour a built-in gets. The check reads each module's
syntax tree: a string constant in code equal to a built-in's name is a finding. Documentation
is not code: docstrings (their doctests included, which must name a concrete strategy to run)
and other bare string statements are skipped, and comments never reach the tree.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from thinktime.errors import ThinktimeError
from thinktime.strategies import PLAIN, STRATEGIES, get_strategy
from thinktime.tasks import TASKS

SRC = Path(__file__).parents[1] / "src" / "thinktime"

# where the registries declare their built-ins (and the defaults among them)
REGISTRIES = {"strategies/base.py", "tasks/base.py"}

# the same word in another vocabulary, or a name that belongs where it stands: (module, word)
ALLOWED = {
    # (the plain model was strategy `none` until issue 23, which clashed with OpenAI's and
    # Inspect's tool_choice, `weight=none`, `report_to='none'` and lm-eval's filter `none`; as
    # `plain` it needs no allowance there)
    ("exports/every_eval_ever.py", "jsonl"): "a file format in Every Eval Ever's schema",
    # the same meaning in a parameter: cot_decoding's `prompt="plain"` sends the question with
    # no prompt added, as strategy `plain` sends the conversation
    ("strategies/cot_decoding.py", "plain"): "CotDecodingParams.prompt's value",
    # replay rules are their own registry: the `deepconf` family replays that strategy, with its
    # own params model, on a stored pool
    ("bench/rules.py", "deepconf"): "the replay rule family's name",
    # `thinktime fit-route` fits the `route` strategy's table; `--json` prints its parameters
    # under this documented key
    ("cli/fit_route.py", "route"): "the --json key of the fitted route parameters",
}

# names left in packages other work owns in this issue; each is to be fixed there (then
# removed here: the xfail below is strict)
ELSEWHERE = {
    ("exports/base.py", "gsm8k"): "HUB_DATASETS: the task module should declare its hub id",
    ("exports/base.py", "gsm8k_tools"): "HUB_DATASETS, as above",
    ("exports/base.py", "math500"): "HUB_DATASETS, as above",
    ("lm_eval_model/model.py", "cot"): "a default strategy: use DEFAULT_STRATEGY",
}


def _names() -> dict[str, set[str]]:
    """Each built-in strategy's and task's name → the modules it may appear in."""
    owners: dict[str, set[str]] = {}
    for registry in (STRATEGIES, TASKS):
        for name, module in registry.builtins.items():
            own = module.removeprefix("thinktime.").replace(".", "/") + ".py"
            owners.setdefault(name, set()).update({own, *REGISTRIES})
    return owners


def _documentation(tree: ast.Module) -> set[int]:
    """The string constants that document: docstrings and other bare string statements."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def findings() -> Iterator[tuple[str, int, str]]:
    """(module, line, name) for every name found outside the modules it may appear in."""
    owners = _names()
    for path in sorted(SRC.rglob("*.py")):
        module = path.relative_to(SRC).as_posix()
        tree = ast.parse(path.read_text())
        skipped = _documentation(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in owners
                and module not in owners[node.value]
                and id(node) not in skipped
            ):
                yield module, node.lineno, node.value


def test_no_strategy_or_task_name_outside_its_module_and_the_registry():
    found = [
        f"src/thinktime/{module}:{line}: {name!r}"
        for module, line, name in findings()
        if (module, name) not in ALLOWED and (module, name) not in ELSEWHERE
    ]
    assert not found, (
        "a strategy or task name outside its own module and the registry; read what the spec "
        "declares (or declare it there), or use DEFAULT_STRATEGY / PLAIN / DEFAULT_TASK:\n"
        + "\n".join(found)
    )


def test_every_allowed_name_is_still_there():
    """An allowance that no longer matches anything is removed, so the list stays true."""
    present = {(module, name) for module, _, name in findings()}
    assert set(ALLOWED) <= present, sorted(set(ALLOWED) - present)


@pytest.mark.xfail(strict=True, reason="in packages other work of issue 23 owns; fix there")
def test_no_name_left_in_packages_owned_elsewhere():
    present = {(module, name) for module, _, name in findings()}
    assert not present & set(ELSEWHERE), sorted(present & set(ELSEWHERE))


def test_the_check_sees_a_name_in_code_but_not_in_documentation(tmp_path):
    source = (
        '"""Run `cot` first."""\n'
        "def pick(strategy=None):\n"
        '    """cot, as the docstring says."""\n'
        "    # cot in a comment\n"
        '    return strategy or "cot"\n'
    )
    tree = ast.parse(source)
    skipped = _documentation(tree)
    names = [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value == "cot" and id(node) not in skipped
    ]
    assert names == [(5, "cot")]


def test_the_plain_model_is_not_named_after_a_word_of_the_wire():
    """`none` is OpenAI's tool_choice, a `weight`, a `report_to`: no strategy is called that, and
    one who still writes it is told the name now, never silently served by the old one."""
    assert PLAIN == "plain" and "none" not in STRATEGIES
    with pytest.raises(ThinktimeError, match=r"^unknown strategy 'none' \(now called 'plain'\); "):
        get_strategy("none")
