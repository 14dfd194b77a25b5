# Issue 22 on one GPU: R3GAN against the style generator on 64² emoji, T of training each
# (one after the other, the whole GPU to each), then images/s and FID/KID of N samples against
# the emoji training images. One short prepared run:
#   bash benchmarks/gpu_batch/r3gan64.sh                         # ~2 x 4 min + scoring on an H100/H200
#   DEV=cpu T=20s N=64 NREF=64 bash benchmarks/gpu_batch/r3gan64.sh   # dry run on a CPU
# Needs the Inception network file where gankit's resolver finds it ($GANKIT_INCEPTION).
set -e
PY=${PY:-python3}; OUT=${OUT:-runs/r3gan64}; T=${T:-4m}; DEV=${DEV:-cuda}; N=${N:-2000}; NREF=${NREF:-}
SEEDS=${SEEDS:-1}
[ -f data/emoji64/attributes.csv ] || $PY -m gankit.cli.main data emoji --size 64 --out data/emoji64
$PY benchmarks/r3gan_equal_time.py --presets r3gan_emoji64,style_emoji64 --time $T --seeds $SEEDS --n $N \
    ${NREF:+--n-ref $NREF} --ref data/emoji64/images --device $DEV --out $OUT
