"""The prompts strategies and verifiers send, in one place so they can be read and tuned together.

>>> cot_messages("What is 2+3?")[0].role
'system'
"""

from __future__ import annotations

from thinktime.types import Message

COT_SYSTEM = (
    "You are a careful math tutor. Solve the problem step by step in plain words and arithmetic. "
    "Do not write code. End with the final answer as a number in \\boxed{}."
)
DIRECT_SYSTEM = (
    "Give only the final answer, as a number in \\boxed{}, with no explanation and no code."
)
JUDGE_SYSTEM = (
    "You grade solutions to math problems. Read the problem and the proposed solution, check "
    "each step, and reply with one word: yes if the final answer is correct, no if it is not."
)
CHECK_SYSTEM = (
    "You check solutions to math problems. Re-do each step of the solution and look for mistakes "
    "in reading the problem, in the plan, and in the arithmetic. Say briefly what you found, then "
    "end with exactly one line: VERDICT: CORRECT or VERDICT: INCORRECT."
)
PROGRAM_SYSTEM = (
    "Write a short Python program that computes the answer to the problem. Use only the "
    "standard library, read no input, and print only the final number. Reply with one "
    "```python code block and nothing else."
)
STEP_JUDGE_SYSTEM = (
    "You grade partial solutions to math problems. Read the problem and the steps so far, check "
    "each step, and reply with one word: yes if every step so far is correct, no if any is wrong."
)
COMPARE_SYSTEM = (
    "You compare two solutions to a math problem. Read the problem and both solutions, check "
    "each step, and reply with one letter: A if solution A's final answer is the correct one, "
    "B if solution B's is."
)
REVISE_PROMPT = (
    "A reviewer checked your solution and found a problem:\n\n{critique}\n\n"
    "Solve the problem again step by step, fixing the mistake. Do not write code. "
    "End with the final answer in \\boxed{{}}."
)


def cot_messages(question: str, history: tuple[Message, ...] = ()) -> tuple[Message, ...]:
    """System prompt (the caller's own system text first, if any), earlier turns, the question."""
    system = "\n\n".join([m.content for m in history if m.role == "system"] + [COT_SYSTEM])
    turns = tuple(m for m in history if m.role != "system")
    return (Message("system", system), *turns, Message("user", question))


def direct_messages(question: str) -> tuple[Message, ...]:
    return (Message("system", DIRECT_SYSTEM), Message("user", question))


def judge_messages(question: str, solution: str) -> tuple[Message, ...]:
    body = f"Problem:\n{question}\n\nProposed solution:\n{solution}\n\nIs the final answer correct?"
    return (Message("system", JUDGE_SYSTEM), Message("user", body))


def program_messages(question: str) -> tuple[Message, ...]:
    return (Message("system", PROGRAM_SYSTEM), Message("user", question))


def step_judge_messages(question: str, steps: str) -> tuple[Message, ...]:
    body = f"Problem:\n{question}\n\nSteps so far:\n{steps}\n\nAre all steps so far correct?"
    return (Message("system", STEP_JUDGE_SYSTEM), Message("user", body))


def compare_messages(question: str, first: str, second: str) -> tuple[Message, ...]:
    """Two solutions side by side, shown as A (`first`) and B (`second`)."""
    body = (
        f"Problem:\n{question}\n\nSolution A:\n{first}\n\nSolution B:\n{second}\n\n"
        "Which solution's final answer is correct? Answer A or B."
    )
    return (Message("system", COMPARE_SYSTEM), Message("user", body))


def check_messages(question: str, solution: str) -> tuple[Message, ...]:
    body = f"Problem:\n{question}\n\nSolution to check:\n{solution}"
    return (Message("system", CHECK_SYSTEM), Message("user", body))


def revise_messages(
    prompt: tuple[Message, ...], solution: str, critique: str
) -> tuple[Message, ...]:
    """The solving prompt, the solution so far, and the checker's critique to act on."""
    return (
        *prompt,
        Message("assistant", solution),
        Message("user", REVISE_PROMPT.format(critique=critique)),
    )
