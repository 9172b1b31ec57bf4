"""Trial-level input groups: whole-trial currents and gradients for inputs known in advance.

An input population whose events are all known before a trial (graded inputs,
spike-source arrays: no incoming groups, no current sources, no adjoint) does not need
the per-step dendritic ring. For each of its eligible outgoing groups the training code
(``dp_forward`` / ``dp_backward``) instead

1. records the source's events and referenced variables for every step of the trial
   (the population's own neuron code, run ahead on its initial state);
2. orders each target column's synapses by (delay descending, presynaptic index, row
   position) — the order in which the ring path adds into one ring slot — and computes
   the current arriving at every step of the trial at once: for each synapse, a loop
   over the trial's steps that vectorises (``<group>_trialIn[post][step]``);
3. after the adjoint pass, computes the group's gradients as correlations of the
   recorded events with the target's adjoint variables at the arrival steps
   (``<target>_trialAdj_<var>[post][step]``, written by the adjoint neuron code).

Step 2 adds the same terms in the same order as the ring path, so the forward pass is
bit-identical to it; the gradients are the same sums in another order. ``dp_run`` (plain
stepping) keeps the ring path for every group. See docs/design.md, "Trial-level input
path".

A group qualifies when (checked on the model code, not guessed):

- the training spec names its source (``TrainingSpec.trial_inputs``), and the source
  qualifies (above) and spikes;
- every weight-update variable is READ_ONLY, the model reads no postsynaptic variable,
  its code has no loop, does not read ``t`` or ``batch``, and calls ``addToPostDelay``
  (or ``addToPost``) exactly once, with a delay that depends only on synapse variables
  and constants;
- its adjoint model (if any) accumulates only REDUCE_BATCH_SUM variables, names the same
  delay, and does not read ``t`` or ``batch`` either.

The whole-trial arrays are ``[neuron][instance][step]``, so that one loop runs over all
instances and steps of a batch (index f = instance * T + step). The recorded event of
step t is ``t`` itself (no event: the type's largest value), so one comparison, ``event < T - 1 - d``,
keeps exactly the events whose arrival t + 1 + d falls inside their own trial; the others
add +0 (or read nothing).

Every other group keeps the ring path.
"""
from __future__ import annotations

import functools

from delayprop.compile.network_spec import NetworkSpec, SynapseGroupSpec
from delayprop.genn_models.code_strings import C_KEYWORDS, MATH_FUNCTIONS, tokenize
from delayprop.genn_models.spec import VarAccess

__all__ = ["trial_groups", "trial_sources", "trial_adjoint_vars", "ineligible_reason",
           "delay_argument", "is_trial_group", "trial_stride", "event_type"]

_LOOPS = {"for", "while", "do", "goto"}
#: the whole-trial loops run over (instance, step) as one index, so the code may not ask
#: which step or instance it is in
_PER_STEP = {"t", "batch"}


def delay_argument(code: str) -> tuple[str, str] | None:
    """``(call, delay text)`` of the one ``addToPostDelay``/``addToPost`` call in ``code``
    (delay ``"0"`` for addToPost), or None unless there is exactly one such call."""
    tokens = [t for t in tokenize(code) if t.kind not in ("comment", "newline")]
    calls = [i for i, t in enumerate(tokens)
             if t.kind == "ident" and t.text in ("addToPostDelay", "addToPost")]
    if len(calls) != 1:
        return None
    i = calls[0]
    name = tokens[i].text
    if name == "addToPost":
        return name, "0"
    depth, args, current = 0, [], []
    for tok in tokens[i + 1:]:
        if tok.text == "(":
            depth += 1
            if depth == 1:
                continue
        elif tok.text == ")":
            depth -= 1
            if depth == 0:
                args.append("".join(current).strip())
                break
        elif tok.text == "," and depth == 1:
            args.append("".join(current).strip())
            current = []
            continue
        if depth >= 1:
            current.append(tok.text)
    if len(args) != 2:
        return None
    return name, args[1]


def _is_autonomous_source(spec: NetworkSpec, pop_name: str) -> str | None:
    pop = spec.population(pop_name)
    if spec.incoming(pop_name):
        return f"source '{pop_name}' has incoming synapse groups"
    if any(cs.target == pop_name for cs in spec.current_sources):
        return f"source '{pop_name}' has a current source"
    if pop.adjoint is not None:
        return f"source '{pop_name}' has an adjoint model"
    if not pop.model.spikes:
        return f"source '{pop_name}' emits no events"
    return None


def ineligible_reason(spec: NetworkSpec, sg: SynapseGroupSpec) -> str | None:
    """Why ``sg`` keeps the ring path (None: it is a trial-level group)."""
    if spec.training is None:
        return "not a training build (plain simulation steps every group through its ring)"
    reason = _is_autonomous_source(spec, sg.source)
    if reason:
        return reason
    if sg.source not in spec.training.trial_inputs:
        return (f"source '{sg.source}' was not chosen as a trial-level input (the training "
                f"compiler's trial_inputs)")
    wu = sg.wu_model
    if any(v.access is not VarAccess.READ_ONLY for v in wu.vars):
        return f"weight update model '{wu.name}' writes its variables"
    if wu.post_neuron_var_refs:
        return f"weight update model '{wu.name}' reads postsynaptic variables"
    idents = {t.text for t in tokenize(wu.pre_spike_syn_code) if t.kind == "ident"}
    if idents & _LOOPS:
        return f"weight update model '{wu.name}' loops"
    if idents & _PER_STEP:
        return f"weight update model '{wu.name}' reads {sorted(idents & _PER_STEP)}"
    call = delay_argument(wu.pre_spike_syn_code)
    if call is None:
        return f"weight update model '{wu.name}' does not call addToPostDelay exactly once"
    constants = set(sg.param_dict_wu()) | {v.name for v in wu.vars}
    allowed = constants | C_KEYWORDS | MATH_FUNCTIONS
    delay_idents = {t.text for t in tokenize(call[1]) if t.kind == "ident"}
    if not delay_idents <= allowed:
        return (f"the delay '{call[1]}' of '{wu.name}' depends on "
                f"{sorted(delay_idents - allowed)}")
    adj = sg.adjoint
    if adj is not None:
        if any(v.access is not VarAccess.REDUCE_BATCH_SUM for v in adj.vars):
            return f"adjoint model '{adj.name}' keeps per-synapse state"
        if "".join(adj.delay.split()) != "".join(call[1].split()):
            return (f"adjoint model '{adj.name}' reads at delay '{adj.delay}', the forward "
                    f"model delivers at '{call[1]}'")
        adj_idents = {t.text for t in tokenize(adj.pre_spike_syn_code) if t.kind == "ident"}
        if adj_idents & _LOOPS:
            return f"adjoint model '{adj.name}' loops"
        if adj_idents & _PER_STEP:
            return f"adjoint model '{adj.name}' reads {sorted(adj_idents & _PER_STEP)}"
    return None


@functools.lru_cache(maxsize=64)
def _trial_group_names(spec: NetworkSpec) -> tuple[str, ...]:
    return tuple(sg.name for sg in spec.synapse_groups if ineligible_reason(spec, sg) is None)


def trial_groups(spec: NetworkSpec) -> list[SynapseGroupSpec]:
    """The groups computed at trial level, in the network's order."""
    names = set(_trial_group_names(spec))
    return [sg for sg in spec.synapse_groups if sg.name in names]


def is_trial_group(spec: NetworkSpec, sg: SynapseGroupSpec) -> bool:
    return sg.name in _trial_group_names(spec)


def trial_sources(spec: NetworkSpec) -> dict[str, list[str]]:
    """``{source population: the variables its trial groups read}``, in network order."""
    out: dict[str, list[str]] = {}
    for sg in trial_groups(spec):
        src = spec.population(sg.source)
        names = out.setdefault(src.name, [])
        binding = dict(sg.pre_var_refs)
        for ref, _ in sg.wu_model.pre_neuron_var_refs:
            var = binding.get(ref) or _default_ref_var(ref, src)
            if var not in names:
                names.append(var)
        for var in (sg.adjoint.pre_tape_vars if sg.adjoint else ()):
            if var not in names:
                names.append(var)
    return out


def trial_adjoint_vars(spec: NetworkSpec) -> dict[str, list[str]]:
    """``{target population: adjoint variables its trial groups read}``."""
    out: dict[str, list[str]] = {}
    for sg in trial_groups(spec):
        if sg.adjoint is None:
            continue
        names = out.setdefault(sg.target, [])
        for var in sg.adjoint.post_delayed_vars:
            if var not in names:
                names.append(var)
    return out


def _default_ref_var(ref: str, pop) -> str:
    from delayprop.compile.lower import _default_ref
    return _default_ref(ref, pop)


def trial_stride(spec: NetworkSpec) -> int:
    """Steps per instance in the whole-trial arrays."""
    return spec.training.num_steps


def event_type(spec: NetworkSpec) -> tuple[str, int]:
    """``(C type, NO_EVENT)`` of the recorded events: the narrowest unsigned type that
    holds every step index and one more value (no event) — the whole-trial loops stream
    these for every synapse, so their width is their cost."""
    T = spec.training.num_steps
    for ctype, top in (("uint8_t", 0xFF), ("uint16_t", 0xFFFF)):
        if T < top:
            return ctype, top
    return "uint32_t", 0xFFFFFFFF
