"""What real GeNN 5 rejects of delayprop's model language, checked at definition time.

delayprop's language (delayprop/genn_models/language.md) is GeNN 5's plus a few extras. A
model headed for ``Model(..., backend="genn")`` is checked here when it is added, so the
user gets one line naming the model, the field and the construct instead of an error from
GeNN's transpiler or from g++ deep inside ``build()``. The list (measured with PyGeNN 5.4.0)
is kept in language.md, section "What real GeNN rejects".
"""
from __future__ import annotations

from delayprop.errors import ModelDefinitionError
from delayprop.genn_models.code_strings import tokenize
from delayprop.genn_models.spec import (AdjointNeuronModel, AdjointWeightUpdateModel,
                                        CurrentSourceModel, NeuronModel, PostsynapticModel,
                                        VarAccess, WeightUpdateModel)

__all__ = ["GENN_MISSING_FUNCTIONS", "CODE_FIELDS", "check_model_for_genn"]

#: Functions delayprop's language accepts but GeNN 5.4's transpiler does not know.
GENN_MISSING_FUNCTIONS = frozenset(
    "hypot isnan isinf isfinite lrint lround llround nan signbit sizeof".split())

#: Code fields of each model kind.
CODE_FIELDS = {
    NeuronModel: ("sim_code", "threshold_condition_code", "reset_code"),
    PostsynapticModel: ("sim_code",),
    WeightUpdateModel: ("pre_spike_syn_code",),
    CurrentSourceModel: ("injection_code",),
}

_REAL = {"scalar", "float", "double"}


def check_model_for_genn(model, where: str) -> None:
    """Raise :class:`ModelDefinitionError` if real GeNN 5 cannot take ``model``."""
    if isinstance(model, (AdjointNeuronModel, AdjointWeightUpdateModel)):
        raise ModelDefinitionError(
            f"{where}: adjoint model '{model.name}' is a delayprop extension (EventProp's "
            f"backward pass) that GeNN does not have; train with backend 'cpu' or 'cuda'")
    for name, etype in model.extra_global_params:
        if not etype.endswith("*"):
            raise ModelDefinitionError(
                f"{where}: [{model.name}] extra global parameter '{name}' of type '{etype}' "
                f"is not an array; GeNN 5 takes only array EGPs ('{etype}*') and a param "
                f"instead of a scalar one")
    for var in model.vars:
        if var.access is VarAccess.REDUCE_BATCH_SUM:
            raise ModelDefinitionError(
                f"{where}: [{model.name}] variable '{var.name}' is REDUCE_BATCH_SUM, which "
                f"GeNN has only in custom updates")
    for field in CODE_FIELDS.get(type(model), ()):
        _check_code(model, field, where)


def _check_code(model, field: str, where: str) -> None:
    tokens = [t for t in tokenize(getattr(model, field)) if t.kind not in ("comment",)]
    for i, tok in enumerate(tokens):
        if tok.kind == "ident" and tok.text in GENN_MISSING_FUNCTIONS:
            raise ModelDefinitionError(
                f"{where}: [{model.name}.{field}, line {tok.line}] GeNN 5 has no function "
                f"'{tok.text}'" + _hint(tok.text))
        if tok.kind == "ident" and tok.text == "addToPostDelay":
            delay = _second_argument(tokens, i)
            if delay is not None and _is_real(model, delay):
                raise ModelDefinitionError(
                    f"{where}: [{model.name}.{field}, line {tok.line}] the delay "
                    f"'{delay}' of addToPostDelay is real-valued; GeNN needs an integer "
                    f"(write e.g. '(uint32_t)round({delay})')")


def _hint(name: str) -> str:
    return {"hypot": " (write sqrt(x*x + y*y))",
            "isnan": " (write x != x)",
            "isinf": " (compare fabs(x) with a bound)",
            "isfinite": " (write x == x && fabs(x) < bound)",
            "lrint": " (write (int)rint(x))",
            "lround": " (write (int)round(x))",
            "llround": " (write (int64_t)round(x))"}.get(name, "")


def _second_argument(tokens, i: int) -> str | None:
    """The text of ``addToPostDelay``'s second argument (tokens[i] is the name)."""
    j = i + 1
    while j < len(tokens) and tokens[j].text.isspace():
        j += 1
    if j >= len(tokens) or tokens[j].text != "(":
        return None
    depth, parts, current = 0, [], []
    for tok in tokens[j + 1:]:
        if tok.text in "([{" and tok.kind == "other":
            depth += 1
        elif tok.text in ")]}" and tok.kind == "other":
            if depth == 0:
                parts.append("".join(current))
                break
            depth -= 1
        elif tok.text == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(tok.text)
    return parts[1].strip() if len(parts) >= 2 else None


def _is_real(model, expr: str) -> bool:
    """Whether ``expr`` is a bare real-valued name (var, param, derived param) or a real
    literal; a cast or any other expression is left to GeNN."""
    types = {v.name: v.type for v in model.vars}
    types.update({p: "scalar" for p in (*model.params, *model.derived_param_names)})
    if expr in types:
        return types[expr] in _REAL
    try:
        int(expr)
        return False
    except ValueError:
        pass
    try:
        float(expr.rstrip("fF"))
        return True
    except ValueError:
        return False
