#!/usr/bin/env bash
# The exact commands behind every run in results/ (run from the repository root with
# DELAYPROP_DATA pointing at the folder that holds hd_audio/). Each run directory also
# records its own command in config.json. Runs that already finished are skipped.
set -euo pipefail
run() {   # run DIR ARGS...: train into results/DIR unless it is already complete
    local dir="results/$1"; shift
    if [ -f "$dir/summary.json" ]; then echo "done: $dir"; return; fi
    local resume=""; [ -f "$dir/checkpoint.npz" ] && resume="--resume"
    delayprop --quiet train "$@" --out "$dir" $resume
}
COMMON="--data rawhd --epochs 40 --hidden 256 --max-delay 25"

# issue 5: dense 40 -> 256 -> 20, learned vs fixed delays
run rawhd_dense_delays_try1 $COMMON --weight-sd 0.2 --seed 1
run rawhd_dense_fixed_delays $COMMON --weight-sd 0.2 --seed 1 --no-delay-learning

# issue 6: 87.5 % sparse, Dale's law, DEEP R drop; RigL / random growth; gradient delays
SPARSE="$COMMON --weight-sd 0.1 --sparsity 0.875 --fan-in 10 --dale"
run rawhd_sparse_rigl $SPARSE --rewire rigl --regrow-delay keep --seed 1
run rawhd_sparse_random $SPARSE --rewire deepr --regrow-delay keep --seed 1
run rawhd_sparse_rigl_gradient_delay $SPARSE --rewire rigl --regrow-delay gradient --seed 1

# issue 8: trained within SpiNNaker's limits (binary spikes, delays 1..16 ticks, rows <= 255)
run rawhd_spinnaker --data rawhd --epochs 40 --hidden 256 --max-delay 16 --weight-sd 0.1 \
    --encode sigma_delta --hardware spinnaker --sparsity 0.875 --fan-in 10 --rewire rigl --seed 1

# issue 7: repeats for the Moran's I statistics (3 networks per condition)
for seed in 2 3; do
    run rawhd_dense_delays_seed$seed $COMMON --weight-sd 0.2 --seed $seed
    run rawhd_sparse_rigl_seed$seed $SPARSE --rewire rigl --regrow-delay keep --seed $seed
done

# issue 5, the recipe that reaches 95 %: delay learning rate 0.05 and every training batch
# shifted by up to +-2 mel channels (the held-out speakers differ in pitch); 3 seeds, and
# the same recipe with fixed delays
AUG="$COMMON --weight-sd 0.2 --delay-lr 0.05 --augment-shift 2"
run rawhd_dense_delays_shift2 $AUG --seed 1
run rawhd_dense_delays_shift2_seed2 $AUG --seed 2
run rawhd_dense_delays_shift2_seed3 $AUG --seed 3
run rawhd_dense_fixed_delays_shift2 $AUG --seed 1 --no-delay-learning
# ... and with a ring twice as long (delays pile at the bounds 0 and 24 with D = 25)
run rawhd_dense_delays_shift2_d50 ${AUG/--max-delay 25/--max-delay 50} --seed 1

# issue 14: the paper's network on top of today's recipe ($AUG), one seed each (seed 1,
# as rawhd_dense_delays_shift2): learned delays on hidden->output too, dropout of hidden
# spikes (per event, as nn.Dropout on the spike tensor, and per neuron and sample)
run rawhd_p14_both_delays $AUG --seed 1 --delays input_hidden,hidden_output \
    --spike-time mid
run rawhd_p14_dropout_event $AUG --seed 1 --dropout 0.4 \
    --spike-time mid
run rawhd_p14_dropout_neuron $AUG --seed 1 --dropout 0.4 --dropout-mode neuron \
    --spike-time mid
run rawhd_p14_both_delays_dropout $AUG --seed 1 --delays input_hidden,hidden_output --dropout 0.4 \
    --spike-time mid

# (the four runs above were made while the backward pass placed hidden spikes mid-step,
# today's --spike-time mid; their config.json says so). The same recipe with mid-step
# placement, 2 seeds, learned and fixed delays, and on the code before it (end of step):
for seed in 1 2; do
    run rawhd_mid_recipe_seed$seed $AUG --seed $seed --spike-time mid
    run rawhd_mid_recipe_fixed_seed$seed $AUG --seed $seed --no-delay-learning --spike-time mid
done
run rawhd_end_recipe_seed1 $AUG --seed 1          # made at ced738f, = today's default
# the two most promising pieces again with the default end-of-step placement
run rawhd_p14_end_both_delays $AUG --seed 1 --delays input_hidden,hidden_output
run rawhd_p14_end_dropout_event $AUG --seed 1 --dropout 0.4
# The final recipe is $AUG (`delayprop train --data rawhd` uses it by default); its 3 seeds
# with learned and with fixed delays are rawhd_dense_delays_shift2* above.

# issue 7: the Figure 3 ablation (reduced: 10 epochs instead of the paper's training
# length; 3 seeds; the command runs any size)
delayprop --quiet ablation --data rawhd --epochs 10 --seeds 3 --hidden 256 --max-delay 25 \
    --weight-sd 0.1 --out results/ablation

# issue 18, to run: the Figure 3 ablation at full length. The 4 models of the paper and the
# control (learned structure without Dale's law) x 5 sparsities x 3 seeds = 75 runs.
# 40 epochs, not the authors' 150: at batch 32 that is 255 x 40 = 10,200 optimiser steps
# (the authors': 150 epochs at batch 256, about 4,800) and 40 rewirings per run (10 in the
# shortened sweep), the length of every other RawHD result here; with the trial-level input
# path a sparse run takes about 2-3 min here, so the sweep is about 2 h with --jobs 2
# (150 epochs: about 8 h). Recipe: the final RawHD recipe of issue 14 (weight sd 0.2, delay
# lr 0.05, +-2 channel shift; dropout and hidden->output delays did not help at 40
# epochs). --jobs 2: two runs at a time, one OpenMP thread each.
# Resumable: run the same command again after a stop.
ABL="--data rawhd --epochs 40 --hidden 256 --max-delay 25 --weight-sd 0.2 --delay-lr 0.05 \
    --augment-shift 2 --seeds 3 --jobs 2"
delayprop ablation $ABL --out results/ablation_full   # complete: 75 of 75 runs
# fixed vs learned Moran's I on the full-length networks at 12.5 % present (3 seeds each)
delayprop --quiet analyse \
    --group fixed results/ablation_full/fixed_structure_fixed_delays/keep0.125/seed* \
    --group learned results/ablation_full/learned_structure_learned_delays/keep0.125/seed* \
    --out results/analysis_fixed_vs_learned_full
# The reasons why learned structure trails fixed structure, each against
# learned_structure_learned_delays of the sweep above (rewiring each epoch, RigL's gradient
# over the last 16 batches, 80 % positive signs); Dale's law is the control in the sweep
# above. One sweep directory per setting (--seeds 1 first, then 3):
ONE="--data rawhd --epochs 40 --hidden 256 --max-delay 25 --weight-sd 0.2 --delay-lr 0.05 \
    --augment-shift 2 --jobs 2"
# - balanced signs: half the rewired synapses positive, so that the initial weights have
#   mean 0 as in fixed structure (80 % positive: 17.7 hidden spikes per neuron in epoch 1
#   against 2.7 with fixed structure)
delayprop ablation $ONE --models learned_structure_learned_delays \
    learned_structure_learned_delays_no_dale --keep 0.5 0.125 --seeds 1 \
    --excitatory-fraction 0.5 --out results/ablation_reasons/balanced_signs
ABL1="$ONE --models learned_structure_learned_delays --keep 0.125"
for seeds in 1 3; do
# - more rewirings: every 16 and every 64 batches (16 and 4 per epoch instead of 1)
delayprop ablation $ABL1 --seeds $seeds --rewire-every 16 --out results/ablation_reasons/rewire16
delayprop ablation $ABL1 --seeds $seeds --rewire-every 64 --out results/ablation_reasons/rewire64
# - RigL's gradient over the whole epoch instead of its last 16 batches
delayprop ablation $ABL1 --seeds $seeds --grad-window all --out results/ablation_reasons/gradall
# - the delay of a regrown synapse chosen by its gradient
delayprop ablation $ABL1 --seeds $seeds --regrow-delay gradient \
    --out results/ablation_reasons/regrow_gradient
# - RigL's own drop: the weakest 30 % decaying along a cosine to 0 at 75 % of training
delayprop ablation $ABL1 --seeds $seeds --drop rigl --out results/ablation_reasons/drop_rigl
done

# issue 8: export the SpiNNaker-trained network (16-bit weights, delays in ticks) and
# validate it on the whole test set: delayprop's engine vs Brian2 re-simulation of the export;
# issue 19: the PyNN script itself run in NEST, and mapped by sPyNNaker on a virtual board
# (pip install 'delayprop[export-sims]')
delayprop export results/rawhd_spinnaker --target spinnaker --out results/export_spinnaker \
    --validate-split test --validate-in nest --validate-in spinnaker-virtual
delayprop export results/rawhd_spinnaker --target nir --out results/export_nir \
    --validate-split test --limit 256

# figures and analyses (issue 5, 6, 7)
delayprop curves results/rawhd_dense_delays_shift2 results/rawhd_dense_fixed_delays_shift2 \
    results/rawhd_dense_delays_try1 results/rawhd_dense_fixed_delays \
    --labels "learned delays, shift aug." "fixed delays, shift aug." "learned delays" \
    "fixed delays" --title "RawHD, dense 40-256-20, max delay 25" \
    --out results/figures/curves_dense.png
delayprop curves results/rawhd_sparse_rigl results/rawhd_sparse_random \
    results/rawhd_sparse_rigl_gradient_delay \
    --labels "RigL, keep delays" "random growth" "RigL, gradient delays" \
    --title "RawHD, 87.5% sparse, Dale's law, fan-in <= 10, learned delays" \
    --out results/figures/curves_sparse.png
delayprop --quiet data show rawhd --index 5 --split test --out results/figures/rawhd_test_5.png
delayprop --quiet analyse results/rawhd_dense_delays_try1 results/rawhd_dense_delays_seed2 \
    results/rawhd_dense_delays_seed3 --out results/analysis_dense
delayprop --quiet analyse results/rawhd_sparse_rigl results/rawhd_sparse_rigl_seed2 \
    results/rawhd_sparse_rigl_seed3 --out results/analysis_sparse
delayprop --quiet analyse results/rawhd_dense_delays_shift2 \
    results/rawhd_dense_delays_shift2_seed2 results/rawhd_dense_delays_shift2_seed3 \
    --out results/analysis_dense_shift2
delayprop --quiet analyse \
    --group fixed results/ablation/fixed_structure_fixed_delays/keep0.125/seed* \
    --group learned results/ablation/learned_structure_learned_delays/keep0.125/seed* \
    --out results/analysis_fixed_vs_learned

# confusion matrix of the recipe's run (per-class accuracy printed with it)
delayprop --quiet evaluate results/rawhd_end_recipe_seed1 \
    --confusion results/figures/confusion_rawhd_end_recipe_seed1.png

# issue 14: the paper's protocol. (a) Its time constants (tau 10.05 ms at 10 ms steps =
# 1.005 steps here), batch 256, 150 epochs, OneCycle peak 5e-3 (and 2e-3), delay lr 0.1,
# dropout 0.4 per spike, delays in both layers, no augmentation; weight sd 0.6 so that the
# hidden layer spikes (about 6 spikes per neuron at the start). Both diverged and were stopped
# (epochs 62 and 42); their metrics are kept.
delayprop train --data rawhd --epochs 150 --batch-size 256 --tau-mem 1.005 --tau-syn 0.5 \
    --readout-tau-mem 1.005 --lr 0.005 --delay-lr 0.1 --dropout 0.4 \
    --delays input_hidden,hidden_output --weight-sd 0.6 --augment-shift 0 --seed 1 \
    --out results/rawhd_paper_protocol_seed1
delayprop train --data rawhd --epochs 150 --batch-size 256 --tau-mem 1.005 --tau-syn 0.5 \
    --readout-tau-mem 1.005 --lr 0.002 --delay-lr 0.1 --dropout 0.4 \
    --delays input_hidden,hidden_output --weight-sd 0.6 --augment-shift 0 --seed 1 \
    --out results/rawhd_paper_protocol_lr2e-3_seed1
# (b) its training protocol with delayprop's time constants (1 ms steps, tau 20/5 ms)
delayprop train --data rawhd --epochs 150 --batch-size 256 --lr 0.005 --delay-lr 0.1 \
    --dropout 0.4 --delays input_hidden,hidden_output --augment-shift 0 --seed 1 \
    --out results/rawhd_paper_training_seed1
delayprop --quiet curves results/rawhd_end_recipe_seed1 results/rawhd_paper_training_seed1 \
    results/rawhd_paper_protocol_seed1 results/rawhd_paper_protocol_lr2e-3_seed1 \
    --labels "recipe (1 ms steps, tau 20, batch 32, 40 ep.)" \
    "paper's training (batch 256, 150 ep., dropout, both delays)" \
    "paper's time constants, peak lr 5e-3" "paper's time constants, peak lr 2e-3" \
    --title "RawHD: the recipe and the paper's protocol (seed 1)" \
    --out results/figures/curves_paper_protocol.png
# issue 14, item 6: Moran's I, trained vs untrained, on the newest dense networks (the recipe
# with the end placement, + learned hidden->output delays, the paper's training protocol);
# panels of the two with hidden->output delays are aligned by them
delayprop --quiet analyse results/rawhd_end_recipe_seed1 results/rawhd_p14_end_both_delays \
    results/rawhd_paper_training_seed1 --out results/analysis_paper_network

# issue 18: the learned-structure models again with balanced signs (50 % positive, so the
# initial weights have mean 0 as fixed structure's do), 2 seeds (time), all sparsities
delayprop ablation --data rawhd --epochs 40 --hidden 256 --max-delay 25 --weight-sd 0.2 \
    --delay-lr 0.05 --augment-shift 2 --jobs 2 --models learned_structure_fixed_delays \
    learned_structure_learned_delays --seeds 2 --excitatory-fraction 0.5 \
    --out results/ablation_balanced        # then --seeds 3: the third seed (run)
python -c '
from delayprop.training.ablation import plot_sweeps
full, bal = "results/ablation_full", "results/ablation_balanced"
plot_sweeps({
    "fixed structure, learned delays": (full, "fixed_structure_learned_delays"),
    "learned structure, learned delays, 80 % positive": (full, "learned_structure_learned_delays"),
    "learned structure, learned delays, 50 % positive": (bal, "learned_structure_learned_delays"),
    "fixed structure, fixed delays": (full, "fixed_structure_fixed_delays"),
    "learned structure, fixed delays, 80 % positive": (full, "learned_structure_fixed_delays"),
    "learned structure, fixed delays, 50 % positive": (bal, "learned_structure_fixed_delays"),
}, "results/figures/ablation_balanced_signs.png",
   "RawHD, 40 epochs: signs of the rewired synapses, 80 % or 50 % positive")'

# issue 14, item 4 and 7: variants of the recipe (seed 1) and the recipe with fixed delays
# (seeds 2 and 3; seed 1 is rawhd_dense_fixed_delays_shift2)
delayprop train --data rawhd --seed 1 --readout max_var --out results/rawhd_v_max_var
delayprop train --data rawhd --seed 1 --augment-time-shift 4 --out results/rawhd_v_time_shift4
delayprop train --data rawhd --seed 1 --reg-lambda 5e-4 --reg-nu-upper 2 --out results/rawhd_v_reg
delayprop train --data rawhd --seed 2 --no-delay-learning --out results/rawhd_end_recipe_fixed_seed2
delayprop train --data rawhd --seed 3 --no-delay-learning --out results/rawhd_end_recipe_fixed_seed3
