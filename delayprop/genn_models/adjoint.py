"""EventProp models: the forward models training uses and their adjoints, in GeNN's language.

Continuous model (docs/design.md, "EventProp"): tau_m dV/dt = -V + I, tau_s dI/dt = -I,
I jumps by w (times the event's value x) at the arrival a = t_spike + d; LIF neurons reset
to v_reset at v_thresh. Adjoint convention (Wunderlich & Pehle 2021): with the sensitivities
mu_V = dL/dV = -tau_m lambda_V and mu_I = dL/dI = -tau_s lambda_I, backward in time::

    tau_m dlambda_V/d(-t) = -lambda_V - dL/dV            (readout drive)
    tau_s dlambda_I/d(-t) = -lambda_I + lambda_V

solved exactly over one step (no events in between)::

    lambda_I <- beta lambda_I + tau_m/(tau_m - tau_s) (alpha - beta) lambda_V
    lambda_V <- alpha lambda_V                      alpha = e^(-dt/tau_m), beta = e^(-dt/tau_s)

At a spike of neuron i (threshold theta, reset v_r, current I at the spike)::

    lambda_V <- lambda_V + [(theta - v_r) lambda_V + sum_j w_ij x (lambda_V - lambda_I)_j(a_ij)
                             + dl/dt_spike] / (I - theta)

and gradients, summed over the events k of synapse ij::

    dL/dw_ij = -tau_s sum_k x_k lambda_I,j(a_k)
    dL/dd_ij = dt * w_ij sum_k x_k (lambda_V - lambda_I)_j(a_k)     (per step of delay)

Discrete-time alignment: forward step n's sample V_n is V((n+1) dt) of the continuous model.
An input event of step k happens at (k+1) dt and arrives at (k + 1 + d) dt. A LIF spike of
step k crossed the threshold somewhere within ((k) dt, (k+1) dt]. By default
(``spike_time='end'``) the backward pass places it where the forward pass emits it, at
(k+1) dt, and propagates whole steps. With ``spike_time='mid'`` it places it at the middle, (k + 1/2) dt, so its jump is applied half-way through the propagation of
backward step k and its events arrive at (k + 1/2 + d) dt. Backward step n applies the
readout drive of V_n at (n+1) dt, propagates to (n + 1/2) dt, applies the jumps of the
spikes of step n, propagates to n dt and writes ``LambdaV``/``LambdaI`` (read by events from
inputs, arriving at n dt) and ``LambdaVEarly``/``LambdaIEarly``, the values at
(n - 1/2) dt (read by events from spiking sources, arriving there).

Why the middle: with the spike at the end of its step (as the forward pass emits it) the
delay gradient of a spiking source misses, on average, half the readout sample or target
jump next to the arrival, a bias that does not shrink relative to the gradient (the
delay kernel integrates to nearly zero); at dt = 1 ms it halved the hidden->output delay
gradient and turned the input->hidden one (tests/training/test_gradients_dt1.py).
Why not by default: on RawHD's recipe (dt = 1 ms, 40 epochs) 'mid' trained to the same
training accuracy but 2.5-2.8 points lower test accuracy on two seeds (README, "The paper's
network"); which placement generalises better is an open question, so both are offered.
"""
from __future__ import annotations

import functools

import numpy as np

from delayprop.errors import ConfigError
from delayprop.genn_models.spec import (VarAccess, create_adjoint_neuron_model,
                                        create_adjoint_weight_update_model,
                                        create_neuron_model, create_weight_update_model,
                                        exp_decay)

__all__ = ["lif_train", "lif_adjoint", "readout_train", "readout_adjoint",
           "pulse_train", "pulse_adjoint", "lambda_i_coefficient", "READOUTS"]

RO = VarAccess.READ_ONLY
RS = VarAccess.REDUCE_BATCH_SUM

#: readout -> (forward accumulation code, dz/dV_n expression in the backward pass).
#: ``T`` is the trial length in steps, ``t = n dt`` the time of step n.
#: In the dz/dV_n expression ``{t}`` stands for the step's time (``t`` or ``t - dt``).
READOUTS = {
    "sum_var": ("VSum += V;", "1.0"),
    "avg_var": ("VSum += V / num_steps;", "1.0 / num_steps"),
    "max_var": ("if (V > VSum || t == 0.0) { VSum = V; VMaxT = t; }",
                "((fabs(({t}) - VMaxT) < 0.5 * dt) ? 1.0 : 0.0)"),
    "avg_var_exp_weight": ("VSum += exp(-t / (num_steps * dt)) * V / num_steps;",
                           "(exp(-({t}) / (num_steps * dt)) / num_steps)"),
}


def lambda_i_coefficient(p, dt) -> float:
    """tau_m/(tau_m - tau_s) (alpha - beta), or its limit (dt/tau) e^(-dt/tau) when equal."""
    tau_m, tau_s = p["tau_mem"], p["tau_syn"]
    if abs(tau_m - tau_s) <= 1e-9 * max(tau_m, tau_s):
        return float(dt / tau_m * np.exp(-dt / tau_m))
    return float(tau_m / (tau_m - tau_s) * (np.exp(-dt / tau_m) - np.exp(-dt / tau_s)))


def _half(f):
    return lambda p, dt: f(p, 0.5 * dt)


# exact propagators over half a step (a whole step is two of them)
_ADJOINT_DERIVED = [("alphaHalf", _half(exp_decay("tau_mem"))),
                    ("betaHalf", _half(exp_decay("tau_syn"))),
                    ("lambdaICoefHalf", _half(lambda_i_coefficient))]

_ADJOINT_VARS = [("LambdaV", "scalar"), ("LambdaI", "scalar"),
                 ("LambdaVEarly", "scalar"), ("LambdaIEarly", "scalar")]

#: where the backward pass places a LIF spike of step k: ``'end'``, at (k + 1) dt where the
#: forward pass emits it (the default: the recipe's accuracy was measured with it), or
#: ``'mid'``, at (k + 1/2) dt, closer to the unknown crossing (the module docstring)
SPIKE_TIMES = ("end", "mid")

# 'end': exact propagators over a whole step
_WHOLE_STEP_DERIVED = [("beta", exp_decay("tau_syn")), ("lambdaICoef", lambda_i_coefficient)]
_WHOLE_STEP_VARS = [("LambdaV", "scalar"), ("LambdaI", "scalar")]
_PROPAGATE_WHOLE = """// exact propagation from (n+1) dt back to n dt (no events in between)
const scalar lV = LambdaV;
LambdaI = beta * LambdaI + lambdaICoef * lV;
LambdaV = alpha * lV;
"""


def check_spike_time(spike_time: str) -> str:
    if spike_time not in SPIKE_TIMES:
        raise ConfigError(f"spike_time must be one of {SPIKE_TIMES}, got {spike_time!r}")
    return spike_time


def _propagate_half(v="LambdaV", i="LambdaI", from_v="LambdaV", from_i="LambdaI"):
    return (f"{i} = betaHalf * {from_i} + lambdaICoefHalf * ({from_v});\n"
            f"{v} = alphaHalf * ({from_v});\n")


#: dropout of a LIF population's outgoing spikes: where this step's scale x comes from
#: in ``DropScale`` (set by the trainer before each forward pass; 1 when evaluating)
DROPOUT_MODES = {
    "event": "DropScale[(batch * (int)num_steps + (int)round(t / dt)) * num_neurons + id]",
    "neuron": "DropScale[batch * num_neurons + id]",
}


@functools.lru_cache(maxsize=None)
def lif_train(dropout: str | None = None):
    """LIF (as neurons.LIF) counting its spikes for the regulariser.

    With ``dropout`` (a key of DROPOUT_MODES) each step also sets ``x``, the factor its
    spike carries to every synapse: 0 for a dropped spike, 1/(1-p) for a kept one. The
    neuron itself spikes and resets either way (dropout acts on the spike output, as
    ``nn.Dropout`` on a spike tensor); its synapses are graded pulses ``g * x_pre``.
    """
    extra = {}
    sim_code = "V = alpha * V + (1.0 - alpha) * Isyn;"
    if dropout is not None:
        extra = dict(extra_global_params=[("DropScale", "scalar*")])
        sim_code += f"\nx = {DROPOUT_MODES[dropout]};"
    return create_neuron_model(
        "LIFTrain" + (f"Drop_{dropout}" if dropout else ""),
        params=["tau_mem", "v_thresh", "v_reset"] + (["num_steps"] if dropout else []),
        derived_params=[("alpha", exp_decay("tau_mem"))],
        vars=[("V", "scalar"), ("SpikeCount", "scalar")] + ([("x", "scalar")] if dropout else []),
        sim_code=sim_code,
        threshold_condition_code="V >= v_thresh",
        reset_code="V = v_reset;\nSpikeCount += 1.0;", **extra)


@functools.lru_cache(maxsize=None)
def lif_adjoint(spike_time: str = "end"):
    """Adjoint of LIFTrain: jump at each taped spike, exact propagation every step.

    ``RegDrive[id]`` (extra global parameter, set between the passes) is
    ``-dl_reg/dt_spike`` of the spike-count regulariser, the same for every spike of
    neuron ``id`` in the batch. With dropout (``lif_train``) the outgoing adjoint synapses
    read the spike's factor ``x`` from the tape (``pre_tape_vars``), so they see what the
    forward ones carried: a dropped spike adds nothing to the gradients or to ``RevISyn``.
    """
    if check_spike_time(spike_time) == "end":
        return create_adjoint_neuron_model(
            "LIFAdjoint", params=["tau_syn"], derived_params=_WHOLE_STEP_DERIVED,
            vars=_WHOLE_STEP_VARS, tape_vars=[("ISpike", "scalar", "Isyn")],
            extra_global_params=[("RegDrive", "scalar*")],
            jump_code="""
// the spike moves with V: dt_spike = -dV / (dV/dt), tau_m dV/dt = ISpike - v_thresh
LambdaV += ((v_thresh - v_reset) * LambdaV + RevISyn - RegDrive[id]) / (ISpike - v_thresh);
""",
            sim_code=_PROPAGATE_WHOLE)
    return create_adjoint_neuron_model(
        "LIFAdjointMid",
        params=["tau_syn"],
        derived_params=_ADJOINT_DERIVED,
        vars=_ADJOINT_VARS + [("JumpNum", "scalar"), ("JumpISpike", "scalar"),
                              ("JumpPending", "scalar")],
        tape_vars=[("ISpike", "scalar", "Isyn")],
        extra_global_params=[("RegDrive", "scalar*")],
        jump_code="""
// the spike of step n is placed at (n + 1/2) dt: its jump is applied in sim_code
JumpNum = RevISyn - RegDrive[id];
JumpISpike = ISpike;
JumpPending = 1.0;
""",
        sim_code="// (n+1) dt -> (n + 1/2) dt\n" + _propagate_half() + """
if (JumpPending != 0.0) {
    // the spike moves with V: dt_spike = -dV / (dV/dt), tau_m dV/dt = ISpike - v_thresh
    LambdaV += ((v_thresh - v_reset) * LambdaV + JumpNum) / (JumpISpike - v_thresh);
    JumpPending = 0.0;
}
// (n + 1/2) dt -> n dt, then the value at (n - 1/2) dt (no event of this neuron between)
""" + _propagate_half() + _propagate_half("LambdaVEarly", "LambdaIEarly"))


@functools.lru_cache(maxsize=None)
def readout_train(readout: str):
    """Leaky-integrator readout accumulating its loss input ``VSum`` (see READOUTS)."""
    accumulate, _ = READOUTS[readout]
    extra = [("VMaxT", "scalar")] if readout == "max_var" else []
    return create_neuron_model(
        f"LeakyIntegrate_{readout}",
        params=["tau_mem", "num_steps"],
        derived_params=[("alpha", exp_decay("tau_mem"))],
        vars=[("V", "scalar"), ("VSum", "scalar"), ("Drive", "scalar")] + extra,
        sim_code="V = alpha * V + (1.0 - alpha) * Isyn;\n" + accumulate)


@functools.lru_cache(maxsize=None)
def readout_adjoint(readout: str, spike_time: str = "end"):
    """Adjoint of the readout: drive -Drive dz/dV_n / tau_m, then exact propagation.

    ``Drive`` = dL/dz of this instance, written by the loss between the passes. With
    ``spike_time='mid'`` it also keeps the values at (n - 1/2) dt that arrivals of spikes
    placed mid-step read.
    """
    _, dzdv = READOUTS[readout]
    if check_spike_time(spike_time) == "end":
        return create_adjoint_neuron_model(
            f"LeakyIntegrateAdjoint_{readout}", params=["tau_syn"],
            derived_params=_WHOLE_STEP_DERIVED, vars=_WHOLE_STEP_VARS,
            sim_code=f"// readout drive of the sample V_n at (n+1) dt: mu_V += dL/dV_n\n"
                     f"LambdaV -= Drive * ({dzdv.format(t='t')}) / tau_mem;\n"
                     + _PROPAGATE_WHOLE)
    return create_adjoint_neuron_model(
        f"LeakyIntegrateAdjointMid_{readout}",
        params=["tau_syn"],
        derived_params=_ADJOINT_DERIVED,
        vars=_ADJOINT_VARS,
        sim_code=f"// readout drive of the sample V_n at (n+1) dt: mu_V += dL/dV_n\n"
                 f"LambdaV -= Drive * ({dzdv.format(t='t')}) / tau_mem;\n"
                 f"// exact propagation from (n+1) dt back to n dt (no events in between)\n"
                 + _propagate_half() + _propagate_half() +
                 f"// the value at (n - 1/2) dt: the drive of the sample V_(n-1) at n dt, "
                 f"then half a step\n"
                 f"const scalar lVn = LambdaV - ((t > 0.5 * dt) ? "
                 f"Drive * ({dzdv.format(t='t - dt')}) / tau_mem : 0.0);\n"
                 + _propagate_half("LambdaVEarly", "LambdaIEarly", "lVn"))


@functools.lru_cache(maxsize=None)
def pulse_train(graded: bool, delayed: bool, delay_type: str = "uint8_t"):
    """Forward synapse: ``g`` (times ``x_pre`` for graded input) after ``d`` whole steps,
    or without delay. Learned delays are real numbers kept by the trainer; ``d`` holds them
    rounded to the nearest step, in an integer type wide enough for the ring."""
    value = "g * x_pre" if graded else "g"
    if delayed:
        code = f"addToPostDelay({value}, d);"
        vars_ = [("g", "scalar", RO), ("d", delay_type, RO)]
    else:
        code = f"addToPost({value});"
        vars_ = [("g", "scalar", RO)]
    return create_weight_update_model(
        f"Pulse{'Graded' if graded else ''}{'Delay' if delayed else ''}Train"
        f"{'16' if delay_type == 'uint16_t' else ''}",
        vars=vars_, pre_neuron_var_refs=[("x_pre", "scalar")] if graded else [],
        pre_spike_syn_code=code)


@functools.lru_cache(maxsize=None)
def pulse_adjoint(graded: bool, delayed: bool, learn_delay: bool, pre_adjoint: bool,
                  spike_time: str = "end"):
    """Gradients of one synapse for one replayed event; feeds the presynaptic jump.

    ``pre_adjoint``: the source is a spiking population with an adjoint. With
    ``spike_time='mid'`` its spikes of step n are placed at (n + 1/2) dt, so their arrivals
    read the target's adjoint at (n + 1/2 + d) dt (``*Early`` of step n + 1 + d); input
    events, and every event with ``'end'``, read it at (n + 1 + d) dt.
    """
    x = " * x_pre" if graded else ""
    early = "Early" if pre_adjoint and check_spike_time(spike_time) == "mid" else ""
    lV, lI = f"LambdaV{early}", f"LambdaI{early}"
    lines = [f"// adjoint of the target at the arrival, (n + 1{' / 2' if early else ''} + d) dt",
             f"const scalar lI = {lI}_post;",
             f"const scalar lVmI = {lV}_post - {lI}_post;",
             f"Gradient -= tau_syn * lI{x};          // dL/dg = -tau_s x lambda_I(a)"]
    vars_ = [("Gradient", "scalar", RS)]
    if learn_delay:
        lines.append(f"DelayGradient += dt * g * lVmI{x};   // dL/dd per step of delay")
        vars_.append(("DelayGradient", "scalar", RS))
    if pre_adjoint:
        lines.append(f"addToPre(g * lVmI{x});                 // into the presynaptic jump")
    name = (f"Pulse{'Graded' if graded else ''}{'Delay' if delayed else ''}Adjoint"
            f"{'D' if learn_delay else ''}{'P' if pre_adjoint else ''}{'Mid' if early else ''}")
    return create_adjoint_weight_update_model(
        name, params=["tau_syn"], vars=vars_,
        pre_tape_vars=["x"] if graded else [],
        post_delayed_vars=[lV, lI],
        delay="d" if delayed else "0",
        pre_spike_syn_code="\n".join(lines))
