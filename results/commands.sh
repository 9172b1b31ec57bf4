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

# issue 7: the Figure 3 ablation (reduced: 10 epochs instead of the paper's training
# length; 3 seeds; the command runs any size)
delayprop --quiet ablation --data rawhd --epochs 10 --seeds 3 --hidden 256 --max-delay 25 \
    --weight-sd 0.1 --out results/ablation

# issue 8: export the SpiNNaker-trained network (16-bit weights, delays in ticks) and
# validate it on the whole test set: delayprop's engine vs Brian2 re-simulation of the export
delayprop export results/rawhd_spinnaker --target spinnaker --out results/export_spinnaker \
    --validate-split test
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
