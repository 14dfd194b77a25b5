# Issue 14 at the presets' size (64², width 64, 6 residual blocks) on one GPU: one short prepared run.
#   bash benchmarks/gpu_batch/aclgan64.sh                 # on the GPU machine (~12 min with B=180)
#   DEV=cpu B=20 STEPS=20 bash benchmarks/gpu_batch/aclgan64.sh   # dry run on a CPU
# The judge is a classifier trained at 64² on the real training split; the editors are the
# seed's form (base), the default (changed) and StarGAN, B seconds each, three at a time.
set -e
PY=${PY:-python3}; OUT=${OUT:-runs/aclgan64}; B=${B:-180}; DEV=${DEV:-cuda}; STEPS=${STEPS:-600}
[ -f data/emoji64/attributes.csv ] || $PY -m gankit.cli.main data emoji --size 64 --out data/emoji64
[ -f $OUT/cls64/classifier.json ] || $PY -m gankit.cli.main classifier train --data emoji --root data/emoji64 \
    --resolution 64 --steps $STEPS --out $OUT/cls64 --device $DEV
$PY benchmarks/aclgan_study.py --scale gpu64 --device $DEV --out $OUT --budget $B --seeds 0 \
    --variants base,changed,stargan --jobs 3 --classifier $OUT/cls64 --diagnose
