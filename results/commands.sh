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

# issue 7: the Figure 3 ablation (reduced: 10 epochs, 2 seeds; the command runs any size)
delayprop --quiet ablation --data rawhd --epochs 10 --seeds 2 --hidden 256 --max-delay 25 \
    --weight-sd 0.1 --out results/ablation

