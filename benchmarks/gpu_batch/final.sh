# last call: wait, projection speed alone (if the jobs are done), pack the results into $OUT
source /tmp/gk/bin/common.sh 2>/dev/null || source .carry/scripts/common.sh
bash $W/bin/mon.sh ${1:-240}
cd $W/src
if [ -e $W/all.done ]; then
  if [ "$DEV" = cuda ]; then $PY benchmarks/projection_speed.py --out $W/out/bench_projection.json 2>&1 | tail -4
  else $PY benchmarks/projection_speed.py --small --out $W/out/bench_projection.json 2>&1 | tail -4; fi
fi
pkill -INT -f gankit.cli.main; sleep 5
cd $W
tar czf $OUT/results.tar.gz --exclude='*/checkpoints/*' out logs cls/*.json ed/*/metrics.jsonl ed/*/config.yaml \
  ed/*/samples style/metrics.jsonl style/config.yaml style/samples aging sweep-*/sweep.json sweep-*/sweep.db 2>&1 | tail -3
tar czf $OUT/norm.tar.gz --exclude='*/checkpoints/*' --exclude='*/tb/*' norm_fm norm_emoji 2>&1 | tail -3
ls -la $OUT
