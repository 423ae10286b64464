"""`particle_filtering`: a population of partial solutions, resampled by verifier reward each step.

Search keeps the best partial solutions; a particle filter keeps a *sample* of them, drawn in
proportion to how likely each looks, so an imperfect verifier's early mistakes do not prune a
good line of thought for good (the paper reports 4–16× better scaling than beam search). The
loop, as its-hub's `ParticleGibbs` runs it (`its_hub/algorithms/particle_gibbs.py`):
1) start N empty particles (partial solutions; a step ends at a blank line);
2) extend every live particle by one step — one batched engine call, particles with the same
   text sharing one request (`n` = their count), so the engine prefills that prefix once;
3) the verifier scores each extended particle as a partial solution (the PRM's last step, the
   judge grading the steps so far, or, with `self_certainty`, how sure the model was of the
   step) — one batched call; a particle whose step reached `\\boxed` (or ended) is finished;
4) weigh the population: softmax of logit(reward) / `weight_temperature`, i.e. weights ∝
   (r / (1 − r))^(1/T); the reward is the particle's last step reward (`aggregation`);
   a reward of 0 weighs nothing, and a reward of 1 outweighs any lower one;
5) resample N particles by weight, multinomial with replacement (seeded by the sampling
   seed): strong particles are copied, weak ones die out. Finished particles stay in the
   population with their final weight — they can be copied, but are never extended;
6) repeat from 2) until every particle finished, `max_steps` (the rest are cut) or the budget.
The answer (`selection`): the finished particle with the highest final reward (`argmax`, as
its-hub); one drawn by weight (`sample`); or the answer with the most total weight
(`weighted`). If none finished, the best particle is made to answer (anytime).

Particle Gibbs (`iterations > 1`): after a sweep, `reference_particles` particles are drawn by
final weight and kept; the next sweep draws the other N − R afresh, and at each step resamples
them from all N — so a copy of a reference's prefix (cut to the current step) may be continued
in a new way. Unlike its-hub, which weighs a reference by its final reward throughout (it is
marked finished), a reference competes at step t with the reward of its first t steps, as in
conditional sequential Monte Carlo (the fix its-hub's issue #54 aimed at).

`details["tree"]` holds every step made (`strategies/tree.py`): nodes {id, parent, step, text,
score, kept, chosen} and this strategy's facts {iteration, weight, copies, finished, survived}
(`copies`: draws of it in the resampling after its step, `kept` when at least one — the
resampling ancestry; `survived`: an ancestor of, or in, the final population; `chosen`: on the
answer's path); `details["resampling"]` each resampling's weights, effective sample size and
picks; `details["references"]` the nodes each particle Gibbs sweep kept.

Reference: Puri et al. 2025, "A Probabilistic Inference Approach to Inference-Time Scaling of
LLMs using Particle-Based Monte Carlo Methods", arXiv:2502.01618.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime import solve
    >>> def script(request, index):
    ...     if request.prompt is None:  # the judge grading the steps so far
    ...         return "yes" if "36" in request.messages[1].content else "no"
    ...     if "12 =" in request.prompt:  # second step: finish
    ...         return "\\\\boxed{26}"
    ...     return ["3 * 12 = 36", "3 * 12 = 35"][index % 2]
    >>> r = solve("apples?", backend=FakeBackend(script), strategy="particle_filtering",
    ...           particles=4, seed=1)
    >>> r.answer, r.details["steps"], r.details["resampling"][0]["weights"]
    ('26', 2, [0.5, 0.0, 0.5, 0.0])
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thinktime.answers.extract import extract_answer
from thinktime.answers.voting import vote
from thinktime.errors import ThinktimeError
from thinktime.strategies.base import Context, Outcome, as_sample, register_strategy
from thinktime.strategies.budget_forcing import force_answer
from thinktime.strategies.tree import TREE, Tree
from thinktime.types import Completion, Request, Sample
from thinktime.verifiers.base import ScoresSamples
from thinktime.verifiers.prm import Aggregation, aggregate

STEP_END = "\n\n"


class ParticleFilteringParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    particles: int = Field(4, ge=1, le=64, description="Partial solutions in the population (N).")
    max_steps: int = Field(
        10, ge=1, le=64, description="Most steps per particle; one unfinished then is cut."
    )
    step_tokens: int = Field(128, ge=8, le=2048, description="Most tokens per step.")
    aggregation: Aggregation = Field(
        "last",
        description="A particle's reward from its step rewards: the last step's (the paper's "
        "model-based aggregation), the weakest (min) or their product (prod).",
    )
    weight_temperature: float = Field(
        1.0,
        ge=0.01,
        le=100.0,
        description="Softmax temperature of the weights, logit(reward) / T: 1 is its-hub's; "
        "lower sharpens toward beam search, higher flattens toward independent samples.",
    )
    selection: Literal["argmax", "sample", "weighted"] = Field(
        "argmax",
        description="The answer: the best-rewarded finished particle (argmax, its-hub's "
        "default), one drawn by weight (sample), or the answer with most weight (weighted).",
    )
    iterations: int = Field(
        1, ge=1, le=16, description="Particle Gibbs sweeps over N particles; 1: particle filtering."
    )
    reference_particles: int = Field(
        1, ge=1, le=63, description="Particle Gibbs: particles a sweep keeps for the next one."
    )

    @model_validator(mode="after")
    def _room_for_new_particles(self) -> ParticleFilteringParams:
        if self.iterations > 1 and self.reference_particles >= self.particles:
            raise ValueError(
                "reference_particles must be fewer than particles (the others are drawn afresh "
                "in each sweep); raise particles or lower reference_particles"
            )
        return self


@dataclass(frozen=True)
class Particle:
    """A partial solution: its steps, the reward after each, their tree nodes and tokens."""

    steps: tuple[str, ...] = ()
    rewards: tuple[float, ...] = ()
    nodes: tuple[int, ...] = ()
    tokens: tuple[int, ...] = ()
    done: bool = False  # finished or cut: never extended again

    @property
    def text(self) -> str:
        return "".join(self.steps)

    def prefix(self, steps: int) -> Particle:
        """Its first `steps` steps (a reference resampled mid-sweep), or itself if no longer."""
        if steps >= len(self.steps):
            return self
        cut = slice(0, steps)
        return Particle(
            self.steps[cut], self.rewards[cut], self.nodes[cut], self.tokens[cut], False
        )


def log_weight(reward: float, temperature: float = 1.0) -> float:
    """logit(reward) / temperature, unclipped: a reward of 0 is −inf, of 1 is +inf."""
    if reward <= 0.0:
        return -math.inf
    if reward >= 1.0:
        return math.inf
    return (math.log(reward) - math.log1p(-reward)) / temperature


def normalize(log_weights: Sequence[float]) -> list[float]:
    """Softmax that takes infinities: +inf particles share all the weight; all −inf: uniform.

    >>> [round(w, 6) for w in normalize([log_weight(r) for r in (0.5, 0.75, 0.0)])]
    [0.25, 0.75, 0.0]
    >>> normalize([math.inf, 0.0, math.inf]), normalize([-math.inf, -math.inf])
    ([0.5, 0.0, 0.5], [0.5, 0.5])
    """
    if not log_weights:
        return []
    if math.inf in log_weights:
        top = log_weights.count(math.inf)
        return [1.0 / top if x == math.inf else 0.0 for x in log_weights]
    finite = [x for x in log_weights if x != -math.inf]
    if not finite:
        return [1.0 / len(log_weights)] * len(log_weights)
    peak = max(finite)
    exps = [0.0 if x == -math.inf else math.exp(x - peak) for x in log_weights]
    total = sum(exps)
    return [e / total for e in exps]


@dataclass
class Ancestry:
    """Every step made (its `tree`) and every resampling, for `details` (a tree view draws them)."""

    tree: Tree = field(default_factory=Tree)
    resampling: list[dict[str, Any]] = field(default_factory=list)

    def add(self, parent: Particle, iteration: int, text: str, score: float, done: bool) -> int:
        return self.tree.add(self.last(parent), text, score, iteration=iteration, weight=None,
                             copies=0, finished=done, survived=False)  # fmt: skip

    def resampled(
        self,
        iteration: int,
        step: int,
        population: Sequence[Particle],
        weights: Sequence[float],
        picked: Sequence[int],
        since: int,
    ) -> None:
        """Record one resampling; the nodes made this step (ids from `since`) keep their
        weight and how many copies of them it drew (one or more: kept)."""
        copies = Counter(picked)
        for index, (particle, weight) in enumerate(zip(population, weights, strict=True)):
            node = self.last(particle)
            if node is not None and node >= since:
                self.tree.note(node, weight=weight, copies=copies[index])
                if copies[index]:
                    self.tree.keep(node)
        self.resampling.append(
            {
                "iteration": iteration, "step": step,
                "nodes": [self.last(p) for p in population], "weights": list(weights),
                "ess": 1.0 / sum(w * w for w in weights),
                "picked": [self.last(population[i].prefix(step)) for i in picked],
            }
        )  # fmt: skip

    def survivors(self, population: Sequence[Particle]) -> None:
        for particle in population:
            for node in particle.nodes:
                self.tree.note(node, survived=True)

    @staticmethod
    def last(particle: Particle) -> int | None:
        return particle.nodes[-1] if particle.nodes else None


def reward(particle: Particle, how: Aggregation, steps: int | None = None) -> float:
    """The particle's reward over its first `steps` steps (all when None)."""
    return aggregate(particle.rewards[:steps], how)


@register_strategy(
    "particle_filtering",
    "Particle filtering: partial solutions resampled by verifier reward at every step "
    "(particle Gibbs with iterations > 1).",
    "Puri et al. 2025, arXiv:2502.01618",
    ParticleFilteringParams,
    samples=lambda p: p.particles,  # every live particle extended in one call
    drawn=lambda p: p.iterations * p.particles * p.max_steps + 1,  # + one forced answer
    steps=True,
    uses_verifier=True,
    facts=("steps", "finished"),
    continues_text=True,
)
def particle_filtering(question: str, ctx: Context, params: ParticleFilteringParams) -> Outcome:
    if ctx.verifier is None:
        raise ThinktimeError("particle filtering needs a verifier; pass verifier='judge' or 'prm'")
    prompt = ctx.chat_prompt(ctx.messages(question))
    rng = random.Random(ctx.params.seed)  # a seeded run resamples the same way
    ancestry = Ancestry()
    references: list[Particle] = []
    population: list[Particle] = []
    kept_nodes: list[list[int | None]] = []  # each sweep's references, by their last node
    steps = sweeps = 0
    for iteration in range(params.iterations):
        if ctx.exhausted():
            break
        sweeps += 1
        # 1) N − R fresh particles; the references of the last sweep (particle Gibbs) join them
        free = params.particles - len(references)
        population = [Particle()] * free + references
        for step in range(1, params.max_steps + 1):
            if all(p.done for p in population[:free]) or ctx.exhausted():
                break
            steps += 1
            since = len(ancestry.tree.nodes)
            # 2) + 3) extend every live particle by one step and score it
            population[:free] = _extend(question, ctx, prompt, population[:free], step, params,
                                        ancestry, iteration)  # fmt: skip
            # 4) weigh all N — a reference by its reward at this step — and 5) resample N − R
            weights = normalize(
                [
                    log_weight(reward(p, params.aggregation, step), params.weight_temperature)
                    for p in population
                ]
            )
            picked = rng.choices(range(len(population)), weights=weights, k=free)
            ancestry.resampled(iteration, step, population, weights, picked, since)
            population = [population[i].prefix(step) for i in picked] + references
        if iteration + 1 < params.iterations:  # particle Gibbs: keep references by final weight
            final = normalize(
                [log_weight(reward(p, params.aggregation), params.weight_temperature)
                 for p in population]
            )  # fmt: skip
            kept = rng.choices(range(len(population)), weights=final, k=params.reference_particles)
            references = [population[i] for i in kept]
            kept_nodes.append([ancestry.last(p) for p in references])
    return _answer(ctx, prompt, population, params, rng, ancestry, (steps, sweeps, kept_nodes))


def _extend(
    question: str,
    ctx: Context,
    prompt: str,
    particles: list[Particle],
    step: int,
    params: ParticleFilteringParams,
    ancestry: Ancestry,
    iteration: int,
) -> list[Particle]:
    """Each live particle one step longer, scored by the verifier; done ones as they were."""
    live = [i for i, p in enumerate(particles) if not p.done]
    verifier = ctx.verifier
    assert verifier is not None
    step_params = ctx.params.with_(max_tokens=params.step_tokens, stop=(STEP_END,))
    if isinstance(verifier, ScoresSamples):  # it scores a step by its own logprobs
        step_params = step_params.with_(top_logprobs=verifier.top_logprobs)
    # copies of one particle share their text: one request with n = their count (one prefill)
    groups: dict[str, list[int]] = {}
    for i in live:
        groups.setdefault(particles[i].text, []).append(i)
    requests = [Request(prompt=prompt + text, n=len(group)) for text, group in groups.items()]
    generations = ctx.ledger.generate(requests, step_params)
    made: dict[int, Completion] = {}
    for group, generation in zip(groups.values(), generations, strict=True):
        made.update(zip(group, generation.completions, strict=True))
    # a sample the budget could not pay for came back empty at its length: that particle waits
    drawn = [i for i in live if made[i].completion_tokens or made[i].finish_reason != "length"]
    finished = {i: "\\boxed" in made[i].text or not made[i].text.strip() for i in drawn}
    texts = {i: made[i].text + ("" if finished[i] else STEP_END) for i in drawn}
    if isinstance(verifier, ScoresSamples):
        scored = [i for i in drawn if made[i].text.strip()]  # an empty end keeps its reward
        certainty = dict(zip(scored, verifier.score_samples([as_sample(made[i]) for i in scored]),
                             strict=True))  # fmt: skip
        rewards = [certainty.get(i, reward(particles[i], "last")) for i in drawn]
    else:
        candidates = [particles[i].text + texts[i] for i in drawn]
        rewards = verifier.score(question, candidates, ctx.ledger, partial=True)
    extended = list(particles)
    for i, score in zip(drawn, rewards, strict=True):
        parent = particles[i]
        node = ancestry.add(parent, iteration, texts[i], score, finished[i])
        extended[i] = Particle(
            (*parent.steps, texts[i]), (*parent.rewards, score), (*parent.nodes, node),
            (*parent.tokens, made[i].completion_tokens), finished[i] or step >= params.max_steps,
        )  # fmt: skip
    return extended


def _answer(
    ctx: Context,
    prompt: str,
    population: list[Particle],
    params: ParticleFilteringParams,
    rng: random.Random,
    ancestry: Ancestry,
    run: tuple[int, int, list[list[int | None]]],
) -> Outcome:
    """The final population as samples, one per distinct particle (its copies add their
    weight to it), and the chosen one's answer."""
    ancestry.survivors(population)
    steps, sweeps, references = run
    details: dict[str, Any] = {"steps": steps, "iterations": sweeps, "finished": 0}
    details |= {
        "verifier": ctx.verifier.name if ctx.verifier else None,
        "scores": [],
        "weights": [],
    }
    details |= {"resampling": ancestry.resampling, "references": references}
    if not any(p.steps for p in population):  # the budget ran out before the first step
        return Outcome(answer=None, samples=(), details=details | {TREE: ancestry.tree.rows()})
    how, temperature = params.aggregation, params.weight_temperature
    shares = normalize([log_weight(reward(p, how), temperature) for p in population])
    distinct: dict[tuple[int, ...], int] = {}
    particles: list[Particle] = []
    weights: list[float] = []
    counts: list[float] = []
    for particle, share in zip(population, shares, strict=True):
        if particle.nodes not in distinct:
            distinct[particle.nodes] = len(particles)
            particles.append(particle)
            weights.append(0.0)
            counts.append(0.0)
        weights[distinct[particle.nodes]] += share
        counts[distinct[particle.nodes]] += 1
    scores = [reward(p, how) for p in particles]
    texts = [p.text for p in particles]
    answers = [extract_answer(t) for t in texts]
    tokens = [sum(p.tokens) for p in particles]
    pool = [i for i, a in enumerate(answers) if a is not None] or list(range(len(particles)))
    winner, table = vote(answers, weights=weights if params.selection == "weighted" else counts)
    if params.selection == "weighted" and winner is not None:
        chosen = max((i for i in pool if answers[i] == winner), key=lambda i: scores[i])
    elif params.selection == "sample":
        drawn = [weights[i] for i in pool]
        [chosen] = rng.choices(pool, weights=drawn if sum(drawn) > 0 else None)
    else:  # argmax: ties go to the earliest particle
        chosen = max(pool, key=lambda i: scores[i])
    details |= {"finished": sum(a is not None for a in answers), "scores": scores}
    details["weights"] = weights
    leaf = ancestry.last(particles[chosen])
    if answers[chosen] is None:  # anytime: the best particle is made to answer now
        before = texts[chosen]
        texts[chosen], forced = force_answer(ctx, prompt, before)
        tokens[chosen] += forced
        answers[chosen] = extract_answer(texts[chosen])
        leaf = ancestry.tree.add(leaf, texts[chosen][len(before) :], scores[chosen], forced=True)
        ancestry.tree.keep(leaf)
    if leaf is not None:
        ancestry.tree.choose(leaf)
    details[TREE] = ancestry.tree.rows()
    samples = tuple(
        Sample(text, answer, "stop" if answer is not None else "length", n, n, score=score)
        for text, answer, n, score in zip(texts, answers, tokens, scores, strict=True)
    )
    return Outcome(answers[chosen], samples, table, chosen, details)
