# Optuna search, one trial per call, until no further trial fits before T0 + 1020 s
source $W/bin/common.sh; cd $W/src
m=$1
waitfor $W/cls.done 600 || { stamp "no classifier"; exit 1; }
last=0
while [ $(( $(left 1020) - last )) -gt 0 ]; do
  s=$(date +%s)
  $G sweep $m --trials 1 --steps ${SWEEP_STEPS:-600} --root $E --classifier $W/cls --out $W/sweep-$m --device $DEV \
     train.progress=false $TINY_SW 2>&1 | tail -n 2
  last=$(( $(date +%s) - s )); stamp "trial took ${last}s"
done
stamp "sweep $m done"
