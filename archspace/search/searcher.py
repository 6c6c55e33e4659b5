"""The bridge between Optuna and Ray Tune: a Ray Tune Searcher that asks the study for
genomes, screens them with the exact cost model, reuses results of genomes already
trained, and tells the study each trial's outcome; and ASHA that spares references."""

from __future__ import annotations

import json
import time
from typing import Any, Optional

from archspace.errors import UserError
from archspace.search.plan import SearchPlan
from archspace.search.references import save_reference
from archspace.search.table import is_search_trial
from archspace.search.trial import RESULT_FIELDS, outcome


def make_searcher(plan: SearchPlan, study, pending_refs: list[str], progress):
    """A Ray Tune Searcher over the study (defined here so Ray is imported only when a
    search runs)."""
    from optuna.trial import TrialState
    from ray.tune.search import Searcher

    class StudySearcher(Searcher):
        def __init__(self):
            super().__init__(metric="accuracy", mode="max")
            self.started: Optional[float] = None  # the budget runs from the first launch, once Ray is up
            self.running: dict[str, tuple] = {}  # ray trial id -> (kind, optuna trial or preset, key)
            self.running_keys: dict[str, Any] = {}  # genome key -> the optuna trial training it
            self.waiting: dict[str, list] = {}  # genome key -> duplicates waiting for its result
            self.finished: dict[str, tuple] = {}  # genome key -> (state, attrs, number)
            self.refs = list(pending_refs)
            self.infeasible = 0
            # Trials of the search so far: settled ones now, then every proposal that is not
            # infeasible (launched, reused, awaiting a duplicate or failed) as it is made.
            self.counted = 0
            self.grid = None
            trials = study.get_trials(deepcopy=False)
            for t in trials:
                a = t.user_attrs
                if t.state != TrialState.FAIL and is_search_trial(t) and a.get("reused_from") is None:
                    self.finished[a["genome_key"]] = (t.state, dict(a), t.number)
                self.infeasible += bool(a.get("infeasible"))
                self.counted += is_search_trial(t)
            if plan.sampler == "grid":
                seen = {t.user_attrs.get("genome_key") for t in trials if not t.user_attrs.get("interrupted")}
                self.grid = [k for k in plan.space.enumerate() if plan.key(plan.spec(plan.space.genome(k))) not in seen]

        # -- bookkeeping

        def out_of_time(self) -> bool:
            if self.started is None:
                self.started = time.monotonic()
            return plan.time_budget_s is not None and time.monotonic() - self.started > plan.time_budget_s

        # -- Ray Tune's calls
        def suggest(self, trial_id: str):
            if self.refs:
                name = self.refs.pop(0)
                spec = plan.spec(plan.reference_genome(name), kind="reference", preset=name)
                self.running[trial_id] = ("reference", name, plan.key(spec))
                return spec.to_config()
            for _ in range(100_000):  # proposals that fail the constraints cost microseconds
                if self.counted >= plan.trials or self.out_of_time() or self.grid == []:
                    return Searcher.FINISHED
                proposal = self._propose()
                if proposal is not None:
                    trial, spec, key = proposal
                    self.running[trial_id] = ("trial", trial, key)
                    self.running_keys[key] = trial
                    return spec.to_config()
            raise UserError("the sampler proposed 100,000 genomes in a row that fail the constraints; widen them")

        def _propose(self):
            """Ask the study for one genome: None when it was settled without training
            (infeasible, or a duplicate whose result is reused or awaited)."""
            trial = study.ask()
            if self.grid is not None:
                knobs = self.grid.pop(0)
            else:
                knobs = plan.space.suggest(trial)
            try:
                genome = plan.space.genome(knobs)
            except UserError as exc:
                trial.set_user_attr("error", str(exc))
                study.tell(trial, state=TrialState.FAIL)
                self.counted += 1
                return None
            cost = plan.space.cost(genome)
            attrs = plan.cost_attrs(cost)
            spec = plan.spec(genome, number=trial.number)
            key = plan.key(spec)
            for (label, value) in zip(plan.space.constraints.declared(), plan.space.constraint_values(cost)):
                trial.set_constraint(label, value)
            attrs.update(genome=json.dumps(genome.to_dict()), genome_key=key, knobs=json.dumps(knobs),
                         proxy_frames=spec.proxy_frames, proxy_crop=spec.proxy_crop)
            for k, v in attrs.items():
                trial.set_user_attr(k, v)
            if not plan.space.feasible(cost):
                trial.set_user_attr("infeasible", True)
                study.tell(trial, plan.objective_values(dict(attrs, accuracy=0.0)))
                self.infeasible += 1
                return None
            self.counted += 1
            if key in self.finished:
                state, result, number = self.finished[key]
                self._settle(trial, state, result, reused_from=number)
                return None
            if key in self.running_keys:
                self.waiting.setdefault(key, []).append(trial)
                return None
            return trial, spec, key

        def on_trial_complete(self, trial_id: str, result: Optional[dict] = None, error: bool = False):
            kind, who, key = self.running.pop(trial_id)
            state_name, attrs = outcome(result, error, plan.budget["epochs"])
            state = {"failed": TrialState.FAIL, "pruned": TrialState.PRUNED, "complete": TrialState.COMPLETE}[state_name]
            if kind == "reference":
                save_reference(plan, who, key, state_name, attrs)
            else:
                self.running_keys.pop(key, None)
                self._settle(who, state, attrs)
                if state != TrialState.FAIL:
                    self.finished[key] = (state, attrs, who.number)
                for dup in self.waiting.pop(key, []):
                    self._settle(dup, state, attrs, reused_from=who.number)
            progress(self)

        def _settle(self, trial, state, attrs: dict, reused_from: Optional[int] = None) -> None:
            keep = {k: v for k, v in attrs.items() if k in RESULT_FIELDS}
            if reused_from is not None:
                keep.update(reused_from=reused_from, wall_s=0.0)
            for k, v in keep.items():
                trial.set_user_attr(k, v)
            if state == TrialState.COMPLETE:
                study.tell(trial, plan.objective_values({**trial.user_attrs, **keep}))
            else:
                study.tell(trial, state=state)

    return StudySearcher()


def make_scheduler(plan: SearchPlan):
    if plan.scheduler == "none":
        return None
    from ray.tune.schedulers import ASHAScheduler

    s = plan.space.search

    class SearchASHA(ASHAScheduler):
        """ASHA that never stops a reference preset: references are trained to the full
        budget so that they sit on the front's axes."""

        def on_trial_result(self, tune_controller, trial, result):
            decision = super().on_trial_result(tune_controller, trial, result)
            return self.CONTINUE if trial.config.get("kind") == "reference" else decision

    # a rung compares the trials' mean accuracy over the space's rung_mean_epochs last epochs
    return SearchASHA(time_attr="epoch", metric="rung_accuracy", mode="max", max_t=plan.budget["epochs"],
                      grace_period=min(s.grace_epochs, plan.budget["epochs"]), reduction_factor=s.reduction_factor)
